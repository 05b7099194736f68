import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { transcoder, type AudioFormat } from './transcode.js';

/** An encoder fed PCM while it is produced; its output is the bytes of the format as they are encoded. */
export interface LiveEncoder {
  write(pcm: Buffer): Promise<void>;
  /** No more input: resolves once everything is encoded (the output then ends). */
  end(): Promise<void>;
  output: Readable;
}

/** A streamed WAV's header: the length is not known yet, so both sizes say "to the end" (0xFFFFFFFF), as streaming writers do. */
export function streamingWavHeader(sampleRate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(0xffffffff, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(0xffffffff, 40);
  return h;
}

async function writeAll(stream: Writable, data: Buffer): Promise<void> {
  if (stream.destroyed) throw new Error('the encoder has stopped');
  if (!stream.write(data)) await Promise.race([once(stream, 'drain'), once(stream, 'close')]);
}

/**
 * 16-bit mono PCM at `sampleRate` in, `format` out: wav is the PCM behind a streaming header;
 * every other format is one ffmpeg reading stdin and writing stdout (killed on abort).
 */
export function liveEncoder(format: AudioFormat, sampleRate: number, signal: AbortSignal): LiveEncoder {
  if (format === 'wav') {
    const output = new PassThrough();
    output.write(streamingWavHeader(sampleRate));
    return {
      output,
      write: (pcm) => writeAll(output, pcm),
      end: async () => {
        output.end();
      },
    };
  }
  const t = transcoder(format, { kind: 'pcm', sampleRate }, signal);
  return {
    output: t.stdout,
    write: async (pcm) => {
      await Promise.race([writeAll(t.stdin, pcm), t.done]);
    },
    end: async () => {
      t.stdin.end();
      await t.done;
    },
  };
}
