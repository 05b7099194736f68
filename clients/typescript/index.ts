/**
 * A typed voicecue client: openapi-fetch over the types openapi-typescript generates from
 * openapi.yaml (`npm run openapi` regenerates both; schema.d.ts is not edited by hand).
 *
 *   const vc = voicecue('http://localhost:8080', { apiKey });
 *   const { data, error } = await vc.POST('/tts', { body: { text: 'Hello.' } });
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths, components } from './schema.js';

export type { paths, components };
export type TtsResult = components['schemas']['TtsResult'];
export type ApiErrorBody = components['schemas']['Error'];

export function voicecue(baseUrl: string, { apiKey, fetch }: { apiKey?: string; fetch?: typeof globalThis.fetch } = {}): Client<paths> {
  return createClient<paths>({ baseUrl, ...(fetch ? { fetch } : {}), headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
}
