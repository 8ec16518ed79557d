// Writes config/ox-batch.schema.json from the zod config schema (`npm run schema`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_SCHEMA_FILE, configJsonSchemaText } from '../src/config/json-schema.js';
import { packageRoot } from '../src/package-root.js';

const target = join(packageRoot(), CONFIG_SCHEMA_FILE);
writeFileSync(target, configJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
