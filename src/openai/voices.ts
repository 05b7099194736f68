/**
 * OpenAI's names for models and voices, resolved to voicecue's engines and voices. Stored voices
 * (voice cloning, the /voices routes) are looked up through a VoiceLibrary when the app has one:
 * the hook below; without one only OpenAI's names and eSpeak NG voices are known.
 */
import type { FastifyInstance } from 'fastify';
import { VOICE_NAME, type OpenAIConfig } from '../config.js';
import type { EngineName, Workers } from '../services/workers.js';
import { ParamError } from './errors.js';

/** A voice the service keeps (a reference recording for F5), as the voice library reports it. */
export interface StoredVoice {
  id: string;
  name: string;
  engine: EngineName;
  /** What the engine's `voice` parameter gets for it. */
  voice: string;
}

/**
 * The hook for the voice library (the /voices routes): decorate the app with `voiceLibrary` and
 * POST /v1/audio/speech takes its ids (as `voice` or `{"id"}`, or as the target of an OpenAI name
 * in VOICECUE_OPENAI_VOICES), and GET /v1/audio/voices lists its voices.
 */
export interface VoiceLibrary {
  get(id: string): Promise<StoredVoice | null>;
  list(): Promise<StoredVoice[]>;
}

declare module 'fastify' {
  interface FastifyInstance {
    voiceLibrary?: VoiceLibrary;
  }
}

export function voiceLibraryOf(app: FastifyInstance): VoiceLibrary | null {
  return app.hasDecorator('voiceLibrary') && app.voiceLibrary ? app.voiceLibrary : null;
}

export interface ResolvedVoice {
  engine: EngineName;
  voice: string;
  /** What a client should know about how its request was taken (a response header). */
  notices: string[];
}

export function resolveModel(config: OpenAIConfig, model: string): EngineName {
  const engine = config.models[model] ?? config.models[model.toLowerCase()];
  if (!engine) {
    throw new ParamError('model', `unknown model "${model.slice(0, 100)}": use one of ${Object.keys(config.models).join(', ')}`, 'VALIDATION_ERROR', 'model_not_found');
  }
  return engine;
}

/**
 * The engine and voice for a request: an OpenAI name (mapped by VOICECUE_OPENAI_VOICES to an
 * eSpeak NG voice or a stored voice), a stored voice's id, or an eSpeak NG voice the worker
 * lists. Anything else is a 400 naming `voice`.
 */
export async function resolveVoice(
  config: OpenAIConfig, workers: Workers, library: VoiceLibrary | null, engine: EngineName, given: string | { id: string },
): Promise<ResolvedVoice> {
  const name = typeof given === 'string' ? given : given.id;
  const notices: string[] = [];
  const target = config.voices[name] ?? config.voices[name.toLowerCase()] ?? name;
  const stored = library ? await library.get(target) : null;
  if (stored) {
    if (stored.engine !== engine) notices.push(`voice ${name} is a stored ${stored.engine} voice: spoken by ${stored.engine}`);
    return { engine: stored.engine, voice: stored.voice, notices };
  }
  if (!VOICE_NAME.test(target) || !espeakKnows(workers, target)) {
    const names = Object.keys(config.voices).join(', ');
    throw new ParamError('voice', `unknown voice "${name.slice(0, 100)}": use one of ${names}, a stored voice's id or an eSpeak NG voice such as en-us+f3`);
  }
  if (engine !== 'espeak') notices.push(`${engine} speaks stored voices only: voice ${name} was spoken by espeak (${target})`);
  return { engine: 'espeak', voice: target, notices };
}

/** Whether the CPU worker lists the voice's language (its "+variant" is checked when it speaks). */
function espeakKnows(workers: Workers, voice: string): boolean {
  const listed = workers.capability('engine', 'espeak').voices;
  if (!Array.isArray(listed)) return true; // not ready yet: the worker says UNKNOWN_VOICE if it is not
  const base = voice.split('+')[0]!.toLowerCase();
  return listed.some((v) => typeof v === 'string' && v.toLowerCase() === base);
}
