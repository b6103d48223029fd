// Tests never read a developer's .env; they set what they need explicitly.
process.env.LOG_LEVEL ??= 'silent';
