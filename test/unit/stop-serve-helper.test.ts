// The test helper that stops a `serve` child: a child that ignores SIGTERM is killed after the grace time and the
// call fails with the child's output, so a hung shutdown fails its test with a reason rather than hanging it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { stopServe, type ServeProcess } from '../helpers/sealpost-cli.js';

function child(script: string): Promise<ServeProcess> {
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let all = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve) => {
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      all += d;
      if (all.includes('ready')) resolve({ child: proc, lines: [], output: () => all, exited });
    });
  });
}

describe('stopServe (test helper)', () => {
  it('resolves with the exit code of a child that stops on SIGTERM', async () => {
    const serve = await child("process.on('SIGTERM', () => process.exit(0)); console.log('ready'); setInterval(() => {}, 1000);");
    assert.equal(await stopServe(serve, 5000), 0);
  });

  it('kills a child that ignores SIGTERM after the grace time and rejects with its output', async () => {
    const serve = await child("process.on('SIGTERM', () => console.log('still here')); console.log('ready'); setInterval(() => {}, 1000);");
    await assert.rejects(stopServe(serve, 500), (error: Error) => /did not exit within 0\.5 s/.test(error.message) && error.message.includes('still here'));
    assert.equal(serve.child.signalCode, 'SIGKILL');
  });
});
