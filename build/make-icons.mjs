#!/usr/bin/env node
// Renders resources/icons/icon.svg and tray.svg to every raster the desktop app needs, with the Debian
// chromium through playwright-core (no download, no image library): NxN.png for Linux, icon.ico (Windows,
// PNG entries), icon.icns (macOS, PNG entries), tray.png/@2x (Linux/Windows tray) and
// trayTemplate.png/@2x (macOS menu bar template). The outputs are committed; re-run after editing an SVG:
//   node build/make-icons.mjs [--chromium /usr/bin/chromium]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'resources', 'icons');
const flag = process.argv.indexOf('--chromium');
const executablePath = flag > 0 ? process.argv[flag + 1] : process.env.SEALPOST_CHROMIUM || '/usr/bin/chromium';

export const APP_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
// ICNS element types that hold PNG data, by pixel size.
const ICNS_TYPES = [['icp4', 16], ['icp5', 32], ['icp6', 64], ['ic07', 128], ['ic08', 256], ['ic09', 512], ['ic10', 1024]];

async function render(page, svg, size) {
  await page.setViewportSize({ width: size, height: size });
  const html = `<!doctype html><html><body style="margin:0;background:transparent">${svg.replace('<svg ', `<svg style="display:block;width:${size}px;height:${size}px" `)}</body></html>`;
  await page.setContent(html);
  return page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
}

/** ICO with PNG-compressed entries (Windows Vista+). */
export function ico(images) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  const entries = [];
  let offset = 6 + 16 * images.length;
  for (const { size, png } of images) {
    const entry = Buffer.alloc(16);
    entry.writeUInt8(size >= 256 ? 0 : size, 0);
    entry.writeUInt8(size >= 256 ? 0 : size, 1);
    entry.writeUInt16LE(1, 4); // colour planes
    entry.writeUInt16LE(32, 6); // bits per pixel
    entry.writeUInt32LE(png.length, 8);
    entry.writeUInt32LE(offset, 12);
    offset += png.length;
    entries.push(entry);
  }
  return Buffer.concat([header, ...entries, ...images.map((i) => i.png)]);
}

/** ICNS: 'icns' + total length, then (type, length, PNG) elements. */
export function icns(images) {
  const parts = images.map(({ type, png }) => {
    const head = Buffer.alloc(8);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([head, png]);
  });
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'latin1');
  head.writeUInt32BE(8 + parts.reduce((n, p) => n + p.length, 0), 4);
  return Buffer.concat([head, ...parts]);
}

async function main() {
  const appSvg = fs.readFileSync(path.join(dir, 'icon.svg'), 'utf8');
  const traySvg = fs.readFileSync(path.join(dir, 'tray.svg'), 'utf8');
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1 });
    const png = new Map();
    for (const size of APP_SIZES) {
      png.set(size, await render(page, appSvg, size));
      fs.writeFileSync(path.join(dir, `${size}x${size}.png`), png.get(size));
    }
    fs.writeFileSync(path.join(dir, 'icon.ico'), ico(ICO_SIZES.map((size) => ({ size, png: png.get(size) }))));
    fs.writeFileSync(path.join(dir, 'icon.icns'), icns(ICNS_TYPES.map(([type, size]) => ({ type, png: png.get(size) }))));
    // Colour tray icon for Linux/Windows panels (light or dark), template (black + alpha) for macOS.
    fs.writeFileSync(path.join(dir, 'tray.png'), png.get(32));
    fs.writeFileSync(path.join(dir, 'tray@2x.png'), png.get(64));
    fs.writeFileSync(path.join(dir, 'trayTemplate.png'), await render(page, traySvg, 16));
    fs.writeFileSync(path.join(dir, 'trayTemplate@2x.png'), await render(page, traySvg, 32));
  } finally {
    await browser.close();
  }
  console.log(`icons written to ${path.relative(root, dir)}/`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
