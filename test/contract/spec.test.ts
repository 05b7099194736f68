// openapi.yaml is generated from the routes' schemas: the committed file must be what the code
// generates now, lint clean, and the generated client's types current; real answers fit it.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { specYaml } from '../../src/contract/spec.js';
import { healthSchema, liveSchema, ttsResultSchema, wordsFileSchema, errorSchema } from '../../src/contract/schemas.js';
import { ROOT, tempDir, testApp } from '../helpers.js';

const committed = readFileSync(join(ROOT, 'openapi.yaml'), 'utf8');

t.test('the committed openapi.yaml is what the routes generate (npm run openapi)', async (t) => {
  t.equal(committed, await specYaml(), 'openapi.yaml is stale: run npm run openapi');
});

t.test('redocly lints it clean: no errors, no warnings', async (t) => {
  const out = execFileSync('npx', ['redocly', 'lint', 'openapi.yaml', '--format', 'summary'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.notMatch(out, /warning|error/i, out);
});

t.test('the TypeScript client types are generated from this spec', async (t) => {
  const dir = await tempDir(t);
  execFileSync('npx', ['openapi-typescript', 'openapi.yaml', '--default-non-nullable', 'false', '-o', join(dir, 'schema.d.ts')], { cwd: ROOT, stdio: 'ignore' });
  t.equal(readFileSync(join(ROOT, 'clients/typescript/schema.d.ts'), 'utf8'), readFileSync(join(dir, 'schema.d.ts'), 'utf8'), 'run npm run openapi');
});

t.test('every operation is described: id, summary, tags, a success with content, errors', async (t) => {
  const spec = parse(committed) as { paths: Record<string, Record<string, { operationId?: string; summary?: string; tags?: string[]; responses: Record<string, { content?: object }> }>> };
  const seen: string[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const at = `${method.toUpperCase()} ${path}`;
      seen.push(at);
      t.ok(op.operationId && op.summary && op.tags?.length, `${at} has an id, a summary and a tag`);
      t.ok(Object.entries(op.responses).some(([s, r]) => /^2\d\d$/.test(s) && (r.content || s === '204')), `${at} describes its success`);
      t.ok(op.responses.default?.content, `${at} describes its errors`);
    }
  }
  t.same(seen.sort(), [
    'GET /download/{id}', 'GET /health', 'GET /health/live', 'GET /metrics', 'GET /v1/audio/models', 'GET /v1/audio/voices', 'GET /v1/models',
    'DELETE /voices/{id}', 'GET /voices', 'GET /voices/{id}', 'GET /voices/{id}/audio', 'PATCH /voices/{id}', 'POST /voices',
    'POST /align', 'POST /tts', 'POST /v1/audio/speech',
  ].sort());
  t.same(Object.keys(spec.paths['/tts']!.post!.responses).filter((s) => /^2/.test(s)).sort(), ['200', '201'], 'JSON is 201, the audio itself 200');
});

t.test('/docs is an HTML page from the npm package, open without a key; /docs/json is this spec', async (t) => {
  const { app } = await testApp(t, { worker: 'fake', env: { VOICECUE_API_KEYS: 'k-docs-0123456789' } });
  const docs = await app.inject('/docs/');
  const page = docs.statusCode === 302 ? await app.inject(String(docs.headers.location)) : docs;
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /swagger-ui/);
  t.notMatch(page.body, /https?:\/\/(?!localhost)[a-z0-9.-]+\.[a-z]{2,}\/[^"']*\.(js|css)/i, 'no script or style from elsewhere');
  const json = await app.inject('/docs/json');
  t.equal(json.statusCode, 200);
  t.same(json.json(), parse(committed), 'the spec it serves is the committed one');
  t.equal((await app.inject('/tts')).statusCode, 401, 'the API itself still needs the key');
});

t.test('real answers fit the schemas the spec is made of, with no field it does not name', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const live = await app.inject('/health/live');
  liveSchema.strict().parse(live.json());
  healthSchema.strict().parse((await app.inject('/health?verbose=1')).json());
  const tts = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'Hello there, world.' } });
  t.equal(tts.statusCode, 201);
  const result = ttsResultSchema.strict().parse(tts.json());
  const words = await app.inject(`/download/${result.id}?format=json`);
  wordsFileSchema.strict().parse(words.json());
  const refused = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'x', speed: 9 } });
  errorSchema.strict().parse(refused.json());
  t.pass('all parsed');
});
