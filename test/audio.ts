// What ffprobe and ffmpeg make of encoded audio: the tests' check that bytes are valid for their format.
import { execa } from 'execa';

export interface Probe {
  codec: string;
  sampleRate: number;
  channels: number;
  /** The container's duration, when it states one. */
  duration: number | null;
  /** What a player plays: the samples ffmpeg decodes, in seconds. */
  decoded: number;
}

/** Probes encoded bytes (raw pcm needs `pcm` = its rate: 24 kHz s16le mono). */
export async function probe(bytes: Uint8Array, pcm?: number): Promise<Probe> {
  const input = pcm ? ['-f', 's16le', '-ar', String(pcm), '-ac', '1'] : [];
  const { stdout } = await execa('ffprobe', ['-v', 'error', ...input, '-show_entries', 'stream=codec_name,sample_rate,channels:format=duration', '-of', 'json', '-i', 'pipe:0'], {
    input: bytes,
  });
  const info = JSON.parse(stdout) as { streams: { codec_name: string; sample_rate: string; channels: number }[]; format: { duration?: string } };
  const stream = info.streams[0]!;
  const decodedPcm = await execa('ffmpeg', ['-v', 'error', ...input, '-i', 'pipe:0', '-f', 's16le', '-ac', '1', '-ar', '48000', 'pipe:1'], {
    input: bytes, encoding: 'buffer', maxBuffer: 1 << 30,
  });
  return {
    codec: stream.codec_name,
    sampleRate: Number(stream.sample_rate),
    channels: stream.channels,
    duration: info.format.duration ? Number(info.format.duration) : null,
    decoded: decodedPcm.stdout.length / 2 / 48000,
  };
}

/** The codec and rate each response_format should have (pcm: OpenAI's 24 kHz). */
export const EXPECTED_CODEC = {
  mp3: { codec: 'mp3', rate: 22050 },
  opus: { codec: 'opus', rate: 48000 },
  aac: { codec: 'aac', rate: 48000 },
  flac: { codec: 'flac', rate: 22050 },
  wav: { codec: 'pcm_s16le', rate: 22050 },
  pcm: { codec: 'pcm_s16le', rate: 24000 },
} as const;
