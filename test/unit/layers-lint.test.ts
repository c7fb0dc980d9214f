// The layer rule of server/ (server/README.md) as the lint sees it: small snippets placed at paths of the tree,
// linted with the project's own eslint.config.js, each asserting that an import is reported or let through.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ESLint, type Linter } from 'eslint';

const root = new URL('../..', import.meta.url).pathname;
const eslint = new ESLint({ cwd: root, cache: false });
const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

interface Config {
  LAYERS: Record<string, { folders: string[]; files: string[] }>;
  ROOT: string[];
  KNOWN_BACK_EDGES: Record<string, string[]>;
  MAX_DEPTH: number;
  layerRulesFor(file: string, allow?: string[]): Linter.RulesRecord;
}
const config = (await import(join(root, 'eslint.config.js'))) as Config;

/** The layer-rule messages ESLint reports for `code` placed at `filePath` (relative to the repository). */
async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  assert.ok(result, `ESLint returned no result for ${filePath}`);
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${filePath} did not parse`);
  return result.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => m.message);
}

async function refused(filePath: string, specifier: string, form: 'import' | 'type' | 'export' | 'dynamic' | 'typeof' = 'import', why = /may not import/): Promise<void> {
  const code = {
    import: `import { x } from '${specifier}';\nexport const y = x;\n`,
    type: `import type { X } from '${specifier}';\nexport type Y = X;\n`,
    export: `export { x } from '${specifier}';\n`,
    dynamic: `export const load = () => import('${specifier}');\n`,
    typeof: `export type M = typeof import('${specifier}');\n`,
  }[form];
  const errors = await layerErrors(filePath, code);
  assert.equal(errors.length, 1, `${filePath} importing ${specifier} (${form}) must be reported once, got ${JSON.stringify(errors)}`);
  assert.match(errors[0]!, why);
}

async function allowed(filePath: string, specifier: string): Promise<void> {
  const errors = await layerErrors(filePath, `import { x } from '${specifier}';\nexport const y = x;\n`);
  assert.deepEqual(errors, [], `${filePath} importing ${specifier} must be allowed`);
}

describe('nothing imports upward', () => {
  test('a store (mailbox/) importing a protocol engine is reported', () => refused('server/mailbox/x.ts', '../imap/server.js'));
  test('a store importing the service layer is reported', () => refused('server/queue/x.ts', '../accounts/index.js'));
  test('a store importing ops/ is reported', () => refused('server/backup/x.ts', '../ops/key.js'));
  test('the base layer importing a store is reported', () => refused('server/mime/x.ts', '../mailbox/types.js'));
  test('a root base file (net.ts) importing a store is reported', () => refused('server/net.ts', './directory/index.js'));
  test('accounts/ importing an entry point is reported', () => refused('server/accounts/x.ts', '../admin/http.js'));
  test('a type-only import counts as an import', () => refused('server/directory/x.ts', '../smtp/outbound/index.js', 'type'));
  test('a re-export counts as an import', () => refused('server/mailbox/x.ts', '../imap/index.js', 'export'));
  test('an import() call counts as an import', () => refused('server/mailbox/x.ts', '../imap/index.js', 'dynamic'));
  test('a typeof import() type counts as an import', () => refused('server/crypto/x.ts', '../smtp/dns.js', 'typeof'));
  test('the depth of the importing file is taken into account', () => refused('server/imap/hooks/x.ts', '../../pop3/index.js'));
  test('a relative path not in its shortest form is reported (./../)', () => refused('server/mailbox/x.ts', './../imap/index.js', 'import', /shortest form/));
  test('a relative path not in its shortest form is reported (dir/../)', () => refused('server/mailbox/x.ts', '../mailbox/../imap/index.js', 'import', /shortest form/));
  test('an import() with a path not in its shortest form is reported', () => refused('server/mailbox/x.ts', '../queue/../imap/index.js', 'dynamic', /shortest form/));
});

describe('imports that point inward are allowed', () => {
  test('ops/ importing the mailbox types', () => allowed('server/ops/x.ts', '../mailbox/types.js'));
  test('a store importing a store beside it', () => allowed('server/backup/x.ts', '../mailbox/index.js'));
  test('a store importing the base layer', () => allowed('server/queue/x.ts', '../crypto/index.js'));
  test('the base layer importing itself', () => allowed('server/keychain/x.ts', '../crypto/index.js'));
  test('a protocol engine importing accounts/', () => allowed('server/pop3/x.ts', '../accounts/index.js'));
  test('one part of the SMTP engine importing another', () => allowed('server/smtp/mx/x.ts', '../outbound/index.js'));
  test('an engine file deep in its folder importing a store', () => allowed('server/imap/hooks/x.ts', '../../mailbox/types.js'));
  test('the admin API using an engine helper (DNS records)', () => allowed('server/admin/x.ts', '../smtp/dns.js'));
  test('an entry point importing ops/', () => allowed('server/admin/x.ts', '../ops/key.js'));
  test('the CLI importing the control client', () => allowed('server/cli/x.ts', '../control/client.js'));
  test('the CLI starting the composition root', () => allowed('server/cli/x.ts', '../app.js'));
  test('app.ts importing an engine', () => allowed('server/app.ts', './imap/index.js'));
  test('a folder that merely shares a name with a layer (ops/context.ts) is not server/context.ts', () => allowed('server/admin/x.ts', '../ops/context.js'));
  test('packages are never matched', () => allowed('server/mailbox/x.ts', 'imapflow'));
});

describe('protocol engines never import one another', () => {
  test('imap/ importing smtp/ is reported', () => refused('server/imap/x.ts', '../smtp/outbound/index.js'));
  test('pop3/ importing imap/ is reported', () => refused('server/pop3/x.ts', '../imap/index.js'));
  test('smtp/mx importing pop3/ is reported', () => refused('server/smtp/mx/x.ts', '../../pop3/index.js'));
  test('an engine importing the admin API is reported', () => refused('server/smtp/x.ts', '../admin/index.js'));
  test('an engine importing ops/ is reported (its callers are cli/, control/, admin/, jobs/)', () => refused('server/imap/x.ts', '../ops/key.js'));
});

describe('entry points and the composition root', () => {
  test('nothing below cli/ imports it (control/ reaching for the CLI is reported)', () => refused('server/control/x.ts', '../cli/common.js'));
  test('jobs/ importing admin/ is reported', () => refused('server/jobs/x.ts', '../admin/index.js'));
  test('a store importing server/context.ts is reported', () => refused('server/remote/x.ts', '../context.js', 'type'));
  test('ops/ importing server/context.ts is reported', () => refused('server/ops/x.ts', '../context.js'));
  test('net.ts importing server/context.ts is reported', () => refused('server/net.ts', './context.js'));
  test('a protocol engine may import server/context.ts', () => allowed('server/smtp/mx/x.ts', '../../context.js'));
  test('context.ts importing an entry point is reported', () => refused('server/context.ts', './imap/index.js'));
  test('the admin API importing app.ts is reported', () => refused('server/admin/x.ts', '../app.js'));
  test('a new root file of server/ is held to the base layer', () => refused('server/new-thing.ts', './accounts/index.js'));
});

describe('server/, main/ and renderer/', () => {
  test('server/ importing main/ is reported', () => refused('server/crypto/x.ts', '../../main/desktop.js'));
  test('a root file of server/ importing renderer/ is reported', () => refused('server/log.ts', '../renderer/src/lib/api.js'));
  test('renderer/ importing server/ is reported, types included', () => refused('renderer/src/lib/x.ts', '../../../server/mailbox/types.js', 'type'));
  test('renderer/ importing main/ is reported', () => refused('renderer/src/x.ts', '../../main/preload.js'));
  test('main/ may import the base layer of server/', () => allowed('main/x.ts', '../server/config/index.js'));
  test('main/ importing the composition root is reported', () => refused('main/x.ts', '../server/app.js'));
  test('main/ importing a store is reported', () => refused('main/x.ts', '../server/mailbox/index.js'));
  test('main/ importing renderer/ is reported', () => refused('main/x.ts', '../renderer/src/lib/api.js'));

  test('no Svelte component of renderer/ imports outside renderer/ (ESLint does not read .svelte files)', () => {
    const outside: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.svelte')) {
          for (const m of readFileSync(p, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
            const spec = m[1]!;
            if (!spec.startsWith('.')) continue;
            const target = relative(root, join(dir, spec));
            if (!target.startsWith('renderer/')) outside.push(`${relative(root, p)} -> ${spec}`);
          }
        }
      }
    };
    walk(join(root, 'renderer', 'src'));
    assert.deepEqual(outside, []);
  });
});

describe('the layer table covers the tree', () => {
  test('every folder and root file of server/ has a layer', () => {
    const known = new Set([...config.ROOT, ...Object.values(config.LAYERS).flatMap((l) => [...l.folders, ...l.files])]);
    const unlisted = readdirSync(join(root, 'server'))
      .filter((name) => name !== 'README.md')
      .map((name) => (statSync(join(root, 'server', name)).isDirectory() ? name : name.replace(/\.[cm]?[jt]s$/, '')))
      .filter((name) => !known.has(name));
    assert.deepEqual(unlisted, [], 'add these to LAYERS in eslint.config.js (and a line to server/README.md)');
  });

  test('no source file of server/ lies deeper than the rule reaches', () => {
    const deep: string[] = [];
    const walk = (dir: string, depth: number): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p, depth + 1);
        else if (depth > config.MAX_DEPTH) deep.push(relative(root, p));
      }
    };
    walk(join(root, 'server'), 0);
    assert.deepEqual(deep, [], 'raise MAX_DEPTH in eslint.config.js');
  });

  test('a file deep in a folder is held to the rule', () => refused(`server/mailbox/${'d/'.repeat(config.MAX_DEPTH - 1)}x.ts`, `${'../'.repeat(config.MAX_DEPTH)}imap/index.js`));

  test('every known back-edge exception is still needed (delete the entry once its import is gone)', async () => {
    const stale: string[] = [];
    for (const file of Object.keys(config.KNOWN_BACK_EDGES)) {
      if (!existsSync(join(root, file))) {
        stale.push(`${file} (no such file)`);
        continue;
      }
      const strict = new ESLint({ cwd: root, cache: false, overrideConfig: [{ files: [file], rules: config.layerRulesFor(file) }] });
      const [result] = await strict.lintFiles([join(root, file)]);
      const layer = (result?.messages ?? []).filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId));
      if (layer.length === 0) stale.push(file);
    }
    assert.deepEqual(stale, [], 'these files no longer break the layer rule: delete their KNOWN_BACK_EDGES entries in eslint.config.js');
  });

  test('a known back-edge exception lets through only the import it names', async () => {
    const file = 'server/mailbox/known-back-edge.ts';
    const excepted = new ESLint({ cwd: root, cache: false, overrideConfig: [{ files: [file], rules: config.layerRulesFor(file, ['imap']) }] });
    const lint = async (specifier: string): Promise<number> => {
      const [result] = await excepted.lintText(`import { x } from '${specifier}';\nexport const y = x;\n`, { filePath: join(root, file) });
      return (result?.messages ?? []).filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).length;
    };
    assert.equal(await lint('../imap/index.js'), 0, 'the named import is let through');
    assert.equal(await lint('../smtp/outbound/index.js'), 1, 'another engine is still refused');
    assert.equal(await lint('../accounts/index.js'), 1, 'the service layer is still refused');
    assert.equal(await lint('../../main/desktop.js'), 1, 'main/ is still refused');
    for (const [known, allow] of Object.entries(config.KNOWN_BACK_EDGES)) {
      assert.ok(allow.length >= 1, `${known} lists nothing it may import`);
      await refused(known, `${'../'.repeat(known.split('/').length - 1)}main/desktop.js`);
    }
  });
});
