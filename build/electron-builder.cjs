// electron-builder configuration for the Sealpost desktop app (`npm run dist`; see docs/desktop.md).
// Validated by test/unit/build-config.test.ts, also against electron-builder's own JSON schema
// (app-builder-lib/scheme.json; electron and electron-builder are pinned devDependencies).
//
// Traps:
// - The packaged app runs the precompiled server (dist/server, scripts/build-server.mjs) as a child of the
//   app's own binary in Node mode (ELECTRON_RUN_AS_NODE=1) from app.asar.unpacked (main/server-command.ts):
//   worker threads cannot read inside an asar archive, so the server and node_modules are unpacked. The
//   TypeScript sources, bin/ and tsx (with esbuild's per-OS binary) are not shipped: nothing compiles at runtime.
//   Only the bundled main process (dist/app) and the icons stay in app.asar.
// - package.json is unpacked too: it makes dist/server's .js files ES modules ("type": "module"), and the
//   server reads its version from ../../package.json; neither can see inside app.asar from app.asar.unpacked.
// - Native modules (better-sqlite3-multiple-ciphers, @node-rs/argon2-*, @napi-rs/keyring-*, lz4-napi, sockopt) are rebuilt
//   for Electron's ABI by electron-builder (npmRebuild); the Node-API ones need no rebuild. Build each
//   platform on that platform: the native prebuilds are per-OS optional packages.
// - The Electron version is the `electron` devDependency (one place); its Node must be >= 20.19 (package.json
//   engines) and >= 22 for build/bundle-main.mjs's target: Electron 39 ships Node 22.
/** @type {Record<string, unknown>} */
const config = {
  appId: 'dev.sealpost.desktop',
  productName: 'Sealpost',
  copyright: 'Copyright © Sealpost contributors',
  // The bundle (build/bundle-main.mjs), as package.json "main" says too (`npm run desktop` launches `electron .`);
  // repeated here so the packaged app's entry never depends on that line.
  extraMetadata: { main: 'dist/app/main.mjs' },
  directories: { output: 'dist/installers', buildResources: 'build' },
  files: [
    'package.json',
    'dist/app/**',
    'dist/server/**',
    'renderer/dist/**',
    'resources/icons/**',
    '!**/*.test.ts',
    '!**/*.map',
    '!**/.DS_Store',
    '!node_modules/tsx/**',
    '!node_modules/esbuild/**',
    '!node_modules/@esbuild/**',
  ],
  asar: true,
  asarUnpack: ['package.json', 'dist/server/**', 'renderer/dist/**', 'node_modules/**'],
  // build/stage-rclone.mjs copies rclone to resources/bin/ first; it lands in <resources>/bin/ and the
  // shell passes that path to the server as SEALPOST_RCLONE.
  extraResources: [{ from: 'resources/bin', to: 'bin', filter: ['rclone', 'rclone.exe'] }],
  npmRebuild: true,
  publish: null,
  linux: {
    target: ['AppImage', 'deb'],
    icon: 'resources/icons',
    category: 'Network',
    executableName: 'sealpost-desktop',
    synopsis: 'Self-hosted mail with one encrypted file per mailbox',
    description: 'Sealpost receives, stores, serves and sends mail for your own domains; every mailbox is its own encrypted SQLite file.',
    maintainer: 'Sealpost <sealpost@localhost>',
    vendor: 'Sealpost',
  },
  deb: { priority: 'optional' },
  appImage: { artifactName: '${productName}-${version}-${arch}.${ext}' },
  mac: {
    target: ['dmg'],
    icon: 'resources/icons/icon.icns',
    category: 'public.app-category.productivity',
    hardenedRuntime: true,
  },
  dmg: { artifactName: '${productName}-${version}-${arch}.${ext}' },
  win: {
    target: ['nsis'],
    icon: 'resources/icons/icon.ico',
  },
  nsis: {
    oneClick: false,
    perMachine: false,
    allowToChangeInstallationDirectory: true,
    artifactName: '${productName}-Setup-${version}-${arch}.${ext}',
  },
};

module.exports = config;
