import { createRequire } from 'node:module';

// package.json is one level above dist/ and src/
const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
export const VERSION: string = pkg.version;
