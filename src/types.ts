/** One spoken word, as the client wrote it, with where it sits in the text and in the audio. */
export interface Word {
  /** The text exactly as in the request: text.slice(char_start, char_end) in code points. */
  word: string;
  /** Seconds from the start of the audio, millisecond precision. */
  start: number;
  end: number;
  /** Unicode code-point offsets into the request's text; char_end is exclusive. */
  char_start: number;
  char_end: number;
  /** Where the timing came from: 'espeak', 'whisperx', 'google', 'interpolated'. */
  source: string;
  /** 0..1 where the aligner gives one; null where it does not (espeak). */
  confidence?: number | null;
}
