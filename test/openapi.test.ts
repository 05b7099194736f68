// openapi.yaml is the contract for generated SDKs: it must say what the code does.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ERROR_STATUS } from '../src/errors.js';
import { ttsBodySchema } from '../src/tts/request.js';
import { ALIGN_METHODS, alignFieldsSchema } from '../src/align/request.js';
import { DOWNLOAD_FORMATS } from '../src/tts/formats.js';
import { ROOT } from './helpers.js';

const spec = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8'));

t.test('every error code in the catalogue is in the spec, and no other', async (t) => {
  t.same([...spec.components.schemas.Error.properties.code.enum].sort(), Object.keys(ERROR_STATUS).sort());
});

t.test('the /tts request fields match the validator', async (t) => {
  const fields = Object.keys(ttsBodySchema(20_000).shape).sort();
  t.same(Object.keys(spec.components.schemas.TtsRequest.properties).sort(), fields);
  t.same(spec.components.schemas.TtsRequest.required, ['text']);
});

t.test('the /align form fields match the validator, with its defaults', async (t) => {
  const schema = alignFieldsSchema(200_000);
  const props = spec.components.schemas.AlignRequest.properties as Record<string, { default?: unknown; enum?: string[] }>;
  t.same(Object.keys(props).sort(), ['audio', ...Object.keys(schema.shape)].sort());
  const applied = schema.parse({ text: 'x' }) as Record<string, unknown>;
  for (const [field, prop] of Object.entries(props)) if (!['audio', 'text', 'language'].includes(field)) t.same(applied[field], prop.default, `default of ${field}`);
  t.same(props.timing_method!.enum, [...ALIGN_METHODS]);
});

t.test('the defaults the spec states are the ones the validator applies', async (t) => {
  const applied = ttsBodySchema(20_000).parse({ text: 'x' }) as Record<string, unknown>;
  for (const [field, prop] of Object.entries(spec.components.schemas.TtsRequest.properties as Record<string, { default?: unknown }>)) {
    if (['text', 'engine', 'voice'].includes(field)) continue; // text is given; the others come from configuration
    t.same(applied[field], prop.default, `default of ${field}`);
  }
});

t.test('the download formats match the table', async (t) => {
  t.same([...spec.components.schemas.DownloadFormat.enum].sort(), Object.keys(DOWNLOAD_FORMATS).sort());
});

t.test('every route has an operation', async (t) => {
  t.same(Object.keys(spec.paths).sort(), ['/align', '/download/{id}', '/health', '/health/live', '/tts']);
});
