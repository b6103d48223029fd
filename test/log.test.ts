import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from '../src/log.js';

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
    const apiError = Object.assign(new Error('Invalid Webhook Token'), {
      url: 'https://discord.com/api/v10/webhooks/1234567890/aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDp0b2tlbg/messages/@original',
      requestBody: { json: { content: 'x' } },
    });
    real.warn({ err: apiError }, 'edit failed');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(written).not.toContain('discord-token-value');
    expect(written).not.toContain('abc.def.ghi');
    expect(written).not.toContain('inf_supersecret123');
    expect(written).not.toContain('aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDp0b2tlbg');
    expect(written).toContain('/webhooks/1234567890/[redacted]');
    expect(written).toContain('hello');
  });
});
