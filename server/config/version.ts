// Sealpost's version, read once from package.json. This file sits two levels below the root like every bundled
// output file (scripts/build-server.mjs), so the same relative path works from sources and from dist/server/.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const VERSION = (require('../../package.json') as { version: string }).version;
