// Deterministic messages for the group-commit crash test (parent and child build the same bytes).
export function crashMessage(n: number): Buffer {
  return Buffer.from(
    `From: Carol Sender <carol@sender.example>\r\nTo: alice@example.test\r\nSubject: Crash batch ${n}\r\n` +
      `Date: Tue, 02 Jan 2024 10:00:00 +0000\r\nMessage-ID: <crash-${n}@sender.example>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nMessage ${n}: ${'filler words to make it realistic '.repeat(20 + (n % 40))}\r\n`,
  );
}
