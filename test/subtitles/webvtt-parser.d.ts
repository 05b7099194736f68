// webvtt-parser ships no types; this covers what the tests use.
declare module 'webvtt-parser' {
  export interface Node {
    type?: 'text' | 'timestamp' | 'object';
    name?: string;
    value?: unknown;
    children?: Node[];
  }
  export interface VttCue {
    id: string;
    startTime: number;
    endTime: number;
    text: string;
    tree: Node;
  }
  export interface VttResult {
    cues: VttCue[];
    errors: { message: string; line: number; col: number }[];
    styles: unknown[];
  }
  export class WebVTTParser {
    constructor(entities?: Record<string, string>);
    parse(input: string, mode?: 'metadata' | 'chapters' | undefined): VttResult;
  }
  const webvtt: { WebVTTParser: typeof WebVTTParser };
  export default webvtt;
}
