#!/usr/bin/env node
// A line for VOICECUE_API_KEYS_FILE: the SHA-256 hex digest of an API key, so keys never sit on
// disk in clear. Standard library only.
//
//   node scripts/hash-key.mjs --new >> keys.txt   # makes a key, shows it once (stderr), appends its digest
//   printf %s "$KEY" | node scripts/hash-key.mjs  # the digest of a key you have (stdin keeps it out of ps and history)
//   printf %s "$KEY" | sha256sum | cut -d' ' -f1  # the same without Node
import { createHash, randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help') || args.length > 1 || (args.length === 1 && args[0] !== '--new')) {
  process.stderr.write('usage: node scripts/hash-key.mjs --new  |  printf %s "$KEY" | node scripts/hash-key.mjs\n');
  process.exit(args.includes('-h') || args.includes('--help') ? 0 : 2);
}

let key;
if (args[0] === '--new') {
  key = randomBytes(32).toString('base64url');
  process.stderr.write(`new API key (give it to the client; it is not stored): ${key}\n`);
} else {
  if (process.stdin.isTTY) process.stderr.write('type the key, then Ctrl-D:\n');
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  key = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  // The same rules as VOICECUE_API_KEYS, so the key can be sent as `Authorization: Bearer <key>`.
  if (!/^[A-Za-z0-9._~+/-]+=*$/.test(key) || key.length < 16) {
    process.stderr.write('a key is at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding only)\n');
    process.exit(2);
  }
}
process.stdout.write(`${createHash('sha256').update(key, 'utf8').digest('hex')}\n`);
