/**
 * The JSON Schema of ox-batch's config file, generated from the zod schema that validates it
 * (zod 4's `z.toJSONSchema`, input side: durations may be `30s` or milliseconds). Shipped as
 * `config/ox-batch.schema.json` and named by a `yaml-language-server` comment at the top of each
 * config file for editor completion; `npm run schema` writes it, a test keeps it in sync.
 *
 * A config file is one layer over `config/default.yaml`, so no key is required at the top of the
 * file or in its sections; inside a schedule (or an admin credential) the keys that entry needs
 * stay required.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

export const CONFIG_SCHEMA_FILE = 'config/ox-batch.schema.json';

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Drops `required` from the root object and from the sections reached through `properties`. */
function optionalLayers(node: JsonObject): void {
  delete node.required;
  const properties = node.properties;
  if (!isObject(properties)) return;
  for (const child of Object.values(properties)) if (isObject(child) && child.type === 'object') optionalLayers(child);
}

export function configJsonSchema(): JsonObject {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonObject;
  optionalLayers(schema);
  return {
    $schema: schema.$schema,
    title: 'ox-batch configuration',
    description: 'One layer over config/default.yaml (see its comments for what each key does).',
    ...schema,
  };
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
