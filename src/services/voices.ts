import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { VoiceStore } from '../voices/library.js';

declare module 'fastify' {
  interface FastifyInstance {
    voices: VoiceStore;
  }
}

/** The stored voices as a service: `app.voices`, and the hook the OpenAI routes read them through. */
export default fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const voices = new VoiceStore(config.dataDir, config.maxVoices);
    await voices.init();
    app.decorate('voices', voices);
    app.decorate('voiceLibrary', {
      get: (id: string) => voices.stored(id),
      list: async () => (await voices.list()).map((v) => ({ id: v.id, name: v.name, engine: 'f5' as const, voice: v.id })),
    });
  },
  { name: 'voices', dependencies: ['store'] },
);
