import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

/** Paths pino masks wherever they appear, so a token in an error or an options object never reaches logs. */
const REDACT = [
  'token',
  'apiKey',
  'authorization',
  'Authorization',
  '*.token',
  '*.apiKey',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  '*.headers.authorization',
  'config.INFERENCE_API_KEY',
  'config.DISCORD_TOKEN',
  'config.SLACK_BOT_TOKEN',
  'config.SLACK_SIGNING_SECRET',
  'config.SLACK_APP_TOKEN',
];

const SECRET_PATTERNS = [
  /\binf_[A-Za-z0-9_-]{6,}/g,
  /\bxox[abposr]-[A-Za-z0-9-]{6,}/g,
  /\bxapp-[A-Za-z0-9-]{6,}/g,
  /\bBot [A-Za-z0-9._-]{20,}/g,
  /\bBearer [A-Za-z0-9._-]{8,}/g,
  // Interaction and webhook tokens travel in the URL path (e.g. DiscordAPIError.url).
  /(\/(?:webhooks|interactions)\/\d+\/)[A-Za-z0-9._-]{20,}/g,
  // Signed URLs carry their credential in the query string.
  /([?&](?:X-Amz-Signature|X-Amz-Credential|signature|sig|token|hm)=)[^&\s"]+/gi,
];

/** Masks anything shaped like a credential in free text (error messages, URLs). */
export function redactText(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (match, prefix?: string) =>
      typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]',
    );
  }
  return out;
}

export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  name = 'kinema',
  destination?: NodeJS.WritableStream,
): Logger {
  const options: LoggerOptions = {
    name,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>,
        );
      },
    },
    serializers: {
      err: (err: unknown) => {
        const serialized = pino.stdSerializers.err(err as Error);
        if (serialized.message) serialized.message = redactText(serialized.message);
        if (serialized.stack) serialized.stack = redactText(serialized.stack);
        // Library errors carry the request they failed on (URL, body); mask what could hold a token.
        for (const field of ['url', 'requestBody', 'config', 'headers']) {
          const value = (serialized as Record<string, unknown>)[field];
          if (typeof value === 'string') (serialized as Record<string, unknown>)[field] = redactText(value);
          else if (value !== undefined) (serialized as Record<string, unknown>)[field] = '[redacted]';
        }
        return serialized;
      },
    },
  };
  return destination ? pino(options, destination as never) : pino(options);
}
