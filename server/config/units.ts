// Sizes as people read them, in binary units: one formatter for the CLI and for operations' progress text.

/** "1.5 MiB", "512 B"; null (no limit) is "unlimited". */
export function formatSize(bytes: number | null): string {
  if (bytes === null) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
