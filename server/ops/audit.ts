// The one audit line of an owner operation: same event name and fields whoever calls (only `via` differs).
// Ids and counts only: never an address, a subject or a password.
import type { OpsCall, OpsContext } from './context.js';

export type AuditFields = Record<string, string | number | boolean | null>;

function errorCode(error: unknown): string {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'Error';
}

/**
 * Runs one operation and writes its audit line at info: `op.<name>` with `outcome: 'ok'` and the fields of its
 * result, or `outcome: 'failed'` and the error's code (info too: the CLI already says what went wrong on stderr).
 */
export async function audited<T>(ctx: Pick<OpsContext, 'logger'>, call: OpsCall, name: string, fields: AuditFields, run: () => Promise<T>, resultFields: (result: T) => AuditFields = () => ({})): Promise<T> {
  const event = `op.${name}`;
  try {
    const result = await run();
    ctx.logger.info({ event, via: call.via, outcome: 'ok', ...fields, ...resultFields(result) }, `${name} done`);
    return result;
  } catch (error) {
    ctx.logger.info({ event, via: call.via, outcome: 'failed', ...fields, code: errorCode(error) }, `${name} failed`);
    throw error;
  }
}
