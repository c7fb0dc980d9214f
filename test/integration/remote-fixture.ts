// A loopback s3rver (child process, port picked by the OS, bucket pre-created) for the rclone tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

export interface S3rver {
  readonly endpoint: string;
  readonly dataDir: string;
  readonly bucket: string;
  /** s3rver's fixed credentials. */
  readonly accessKeyId: 'S3RVER';
  readonly secret: 'S3RVER';
  stop(): Promise<void>;
}

export async function startS3rver(bucket = 'mail-backup'): Promise<S3rver> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-s3-'));
  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const child: ChildProcess = spawn(process.execPath, [bin, '-d', dataDir, '-a', '127.0.0.1', '-p', '0', '--silent', '--configure-bucket', bucket], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${out}`)), 20_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on [^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}): ${out}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dataDir,
    bucket,
    accessKeyId: 'S3RVER',
    secret: 'S3RVER',
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
