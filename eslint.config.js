// Lint: TypeScript-aware rules for server/main/test/bench; the Svelte UI is checked by its own build.
// It also holds the layer rule of server/ (server/README.md): imports point inward, never back up.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of server/, from the outside in. A file may import its own layer's folders (except where
 * SIDEWAYS says otherwise) and any layer below it, never a layer above it. Root files of server/ count as
 * their layer's members too (e.g. `net` is server/net.ts). Every folder and root file of server/ must be
 * listed here or in ROOT (test/unit/layers-lint.test.ts checks it).
 */
export const LAYERS = {
  entry: { folders: ['cli', 'control', 'admin', 'jobs', 'imap', 'pop3', 'smtp', 'managesieve', 'certs'], files: [] },
  service: { folders: ['ops', 'accounts'], files: [] },
  store: { folders: ['mailbox', 'queue', 'directory', 'backup', 'remote'], files: [] },
  base: {
    folders: ['mime', 'crypto', 'config', 'keychain', 'reports', 'sieve', 'junk'],
    files: ['ports', 'sqlite', 'locks', 'net', 'errors', 'log', 'fsutil', 'security-log', 'wildduck-env', 'stages', 'worker-thread'],
  },
};
const ORDER = ['entry', 'service', 'store', 'base'];

/** The composition root: app.ts builds everything; context.ts is the type of what it built. */
export const ROOT = ['app', 'context'];

/** The protocol engines: none imports another one, nor any other entry point. */
const ENGINES = ['imap', 'pop3', 'smtp', 'managesieve'];

/** Imports forbidden inside a layer. cli/ is the top (bin/sealpost's commands): nothing in server/ imports it. */
const SIDEWAYS = {
  control: ['cli', 'admin', 'jobs'],
  admin: ['cli', 'control', 'jobs'],
  jobs: ['cli', 'control', 'admin'],
  imap: ['cli', 'control', 'admin', 'jobs', 'pop3', 'smtp', 'managesieve', 'ops'],
  pop3: ['cli', 'control', 'admin', 'jobs', 'imap', 'smtp', 'managesieve', 'ops'],
  smtp: ['cli', 'control', 'admin', 'jobs', 'imap', 'pop3', 'managesieve', 'ops'],
  managesieve: ['cli', 'control', 'admin', 'jobs', 'imap', 'pop3', 'smtp', 'ops'],
  // certs/ (ACME and the public web listeners) stands alone like an engine; admin/ and cli/ read its status.
  certs: ['cli', 'control', 'admin', 'jobs', 'imap', 'pop3', 'smtp', 'managesieve', 'ops'],
  // ops/ is called by cli/, control/, admin/ and jobs/ only; accounts/ is what ops/ and the engines build on.
  accounts: ['ops'],
};

/**
 * Files that still import against the layer rule, each with what it may still import. One entry per file,
 * each a known back-edge, to remove: delete the entry once the import is gone and `npm run lint` stays clean.
 */
export const KNOWN_BACK_EDGES = {};

const layerOf = (name) => ORDER.find((layer) => LAYERS[layer].folders.includes(name) || LAYERS[layer].files.includes(name));

/** The names (folders or root files of server/) that a file in `name`'s folder, or root file `name`, may not import. */
function forbiddenFor(name) {
  const forbidden = [];
  const rank = ORDER.indexOf(layerOf(name));
  for (const layer of ORDER.slice(0, Math.max(rank, 0))) {
    forbidden.push(...LAYERS[layer].folders.map((n) => ({ name: n, folder: true, why: `${layer} layer` })));
    forbidden.push(...LAYERS[layer].files.map((n) => ({ name: n, folder: false, why: `${layer} layer` })));
  }
  for (const n of SIDEWAYS[name] ?? []) {
    const why = ENGINES.includes(name) && ENGINES.includes(n) ? 'another protocol engine' : n === 'ops' ? 'called only by cli/, control/, admin/ and jobs/' : 'another entry point';
    forbidden.push({ name: n, folder: true, why });
  }
  if (name === 'context') forbidden.push(...LAYERS.entry.folders.map((n) => ({ name: n, folder: true, why: 'entry layer' })));
  if (name !== 'cli' && name !== 'control' && name !== 'app') forbidden.push({ name: 'app', folder: false, why: 'composition root, started by cli/ and control/ only' });
  if (!LAYERS.entry.folders.includes(name) && name !== 'app') forbidden.push({ name: 'context', folder: false, why: 'composition root, seen by app.ts and entry points only' });
  return forbidden;
}

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** How a relative specifier written `depth` folders below server/ reaches server/ itself. */
const up = (depth) => (depth === 0 ? '\\./' : `(\\.\\./){${depth}}`);

/** A relative path not in its shortest form (`./../x`, `a/../b`, `a/./b`) would slip past the regexes below. */
const UNNORMALIZED = { regex: '^\\./\\.\\./|(^|/)(?!\\.\\.(/|$))[^/]+/\\.\\.(/|$)|/\\.(/|$)', message: 'Write a relative import in its shortest form (no ./../, dir/../ or /./): the layer rule reads the path as written.' };

/** Both rules for one set of regexes: static imports/exports, and import() calls and `typeof import()` types. */
function restrict(layerRules) {
  const rules = [...layerRules, UNNORMALIZED];
  const syntax = (node, path) => rules.map(({ regex, message }) => ({ selector: `${node}[${path}=/${regex.replaceAll('/', '\\/')}/]`, message }));
  return {
    'no-restricted-imports': ['error', { patterns: rules.map(({ regex, message }) => ({ regex, message })) }],
    'no-restricted-syntax': ['error', ...syntax('ImportExpression', 'source.value'), ...syntax('TSImportType', 'argument.literal.value')],
  };
}

/** The rules for a file `depth` folders below server/, in folder (or root file) `name`, allowed `allow` extra names. */
function serverRules(name, depth, allow = [], where = depth === 0 ? `server/${name}.ts` : `server/${name}/`) {
  const groups = new Map();
  for (const f of forbiddenFor(name).filter((f) => !allow.includes(f.name))) {
    const key = `${f.why}|${f.folder}`;
    if (!groups.has(key)) groups.set(key, { why: f.why, folder: f.folder, names: [] });
    groups.get(key).names.push(f.name);
  }
  const rules = [...groups.values()].map(({ why, folder, names }) => ({
    regex: `^${up(depth)}(${names.map(esc).join('|')})${folder ? '(/|$)' : '(\\.[cm]?[jt]s)?$'}`,
    message: `${where} may not import ${names.map((n) => (folder ? `server/${n}/` : `server/${n}.ts`)).join(', ')} (${why}): imports point inward, see server/README.md.`,
  }));
  rules.push({ regex: `^${depth === 0 ? '\\.\\./' : `(\\.\\./){${depth + 1}}`}(main|renderer)(/|$)`, message: `${where} may not import main/ or renderer/: the server never depends on the desktop shell or the UI.` });
  return restrict(rules);
}

/** The layer rules for one file of server/ (path relative to the repository), allowed the names in `allow`. */
export function layerRulesFor(file, allow = []) {
  const parts = file.split('/');
  const depth = parts.length - 2;
  return serverRules(depth === 0 ? parts[1].replace(/\.[cm]?[jt]s$/, '') : parts[1], depth, allow);
}

const SOURCE = '{ts,mts,cts,js,mjs,cjs}';
/** How deep below server/ the rule reaches (test/unit/layers-lint.test.ts checks that no file is deeper). */
export const MAX_DEPTH = 4;
const layerConfigs = [];
for (const layer of ORDER) {
  for (const folder of LAYERS[layer].folders) {
    for (let depth = 1; depth <= MAX_DEPTH; depth++) {
      layerConfigs.push({ files: [`server/${folder}/${'*/'.repeat(depth - 1)}*.${SOURCE}`], rules: serverRules(folder, depth) });
    }
  }
}
// Root files of server/; a new one is held to the base layer's rule until it is listed in LAYERS.
layerConfigs.push({ files: [`server/*.${SOURCE}`], rules: serverRules('log', 0, [], 'A root file of server/ not listed in LAYERS') });
for (const name of [...ROOT, ...ORDER.flatMap((layer) => LAYERS[layer].files)]) {
  layerConfigs.push({ files: [`server/${name}.ts`], rules: serverRules(name, 0) });
}
for (const [file, allow] of Object.entries(KNOWN_BACK_EDGES)) layerConfigs.push({ files: [file], rules: layerRulesFor(file, allow) });
// The UI talks to the server over HTTP only (renderer/src/lib/api.ts): it imports nothing from server/ or main/,
// not even types (its wire types live in renderer/src/lib/types.ts). main/ starts, stops and frames the server:
// it may use the base layer (config, keychain) but nothing that runs mail, and never the UI's code.
layerConfigs.push({
  files: [`renderer/**/*.${SOURCE}`],
  rules: restrict([{ regex: '^(\\.\\./)+(server|main)(/|$)', message: 'renderer/ may not import server/ or main/: the UI talks to the server over HTTP only.' }]),
});
layerConfigs.push({
  files: [`main/**/*.${SOURCE}`],
  rules: restrict([
    { regex: '^(\\.\\./)+renderer(/|$)', message: 'main/ may not import renderer/: the window loads the UI from the server.' },
    {
      regex: `^\\.\\./server/(${[...ROOT, ...ORDER.slice(0, 3).flatMap((l) => [...LAYERS[l].folders, ...LAYERS[l].files])].map(esc).join('|')})(/|\\.[cm]?[jt]s$|$)`,
      message: 'main/ may not import server/ beyond its base layer (config, keychain, crypto…): it runs the server as a child process.',
    },
  ]),
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'renderer/dist/**', 'renderer/**/*.svelte', 'test/e2e/screenshots/**', 'resources/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly', window: 'readonly', document: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } } },
  ...layerConfigs,
);
