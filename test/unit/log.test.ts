import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from '../../src/log.js';

describe('logging', () => {
  it('masks credentials in free text and signed URLs', () => {
    expect(redactText('key inf_abcdef123456 used')).toBe('key [redacted] used');
    expect(redactText('Authorization: Bearer xoxb-1234-abcdef')).not.toContain('xoxb-1234');
    expect(redactText('https://s.example/x.png?X-Amz-Signature=abc123&X-Amz-Expires=900')).toBe(
      'https://s.example/x.png?X-Amz-Signature=[redacted]&X-Amz-Expires=900',
    );
  });

  it('never writes a token, in fields, nested headers or error messages', async () => {
    let written = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written += chunk.toString();
        done();
      },
    });
    const real = createLogger('info', 'test', sink);
    real.info(
      { token: 'discord-token-value', request: { headers: { authorization: 'Bot abc.def.ghi' } } },
      'hello',
    );
    real.error({ err: new Error('failed with key inf_supersecret123') }, 'boom');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(written).not.toContain('discord-token-value');
    expect(written).not.toContain('abc.def.ghi');
    expect(written).not.toContain('inf_supersecret123');
    expect(written).toContain('hello');
  });
});
