import { ConfigError, loadConfig, parseModelRef } from '../../src/config';

describe('loadConfig', () => {
  it('gives defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/storyloom');
    expect(config.llm.models.summary.provider).toBe('anthropic');
    expect(config.llm.models.embedding).toEqual({ provider: 'openai', model: 'text-embedding-3-small' });
  });

  it('drains a stopping worker for the request timeout and 10 s by default, or STORYLOOM_SHUTDOWN_GRACE_MS', () => {
    expect(loadConfig({}).shutdownGraceMs).toBe(130_000);
    expect(loadConfig({ STORYLOOM_LLM_TIMEOUT_MS: '60000' }).shutdownGraceMs).toBe(70_000);
    expect(loadConfig({ STORYLOOM_LLM_TIMEOUT_MS: '60000', STORYLOOM_SHUTDOWN_GRACE_MS: '600000' }).shutdownGraceMs).toBe(600_000);
    expect(() => loadConfig({ STORYLOOM_SHUTDOWN_GRACE_MS: '-1' })).toThrow(/STORYLOOM_SHUTDOWN_GRACE_MS must be an integer from 0/);
  });

  it('takes a provider rate cap of 0 (none) or down to one request a minute', () => {
    expect(loadConfig({}).llm.providers.openai.maxPerSecond).toBe(0);
    // 3 requests a minute (a free tier) is still a rate the server can dispatch at.
    expect(loadConfig({ STORYLOOM_OPENAI_MAX_PER_SECOND: '0.05' }).llm.providers.openai.maxPerSecond).toBe(0.05);
  });

  it('routes a purpose to the configured provider and model', () => {
    const config = loadConfig({ STORYLOOM_MODEL_SUMMARY: 'ollama:llama3.2:3b' });
    expect(config.llm.models.summary).toEqual({ provider: 'ollama', model: 'llama3.2:3b' });
  });

  it.each([
    ['STORYLOOM_MODEL_OUTLINE', 'gpt-4o', /STORYLOOM_MODEL_OUTLINE must look like <provider>:<model>/],
    ['STORYLOOM_MODEL_OUTLINE', 'mistral:large', /provider one of anthropic, openai, ollama; got "mistral:large"/],
    ['STORYLOOM_MODEL_EMBEDDING', 'anthropic:claude', /Anthropic has no embeddings API/],
    ['STORYLOOM_ANTHROPIC_MAX_CONCURRENT', '0', /STORYLOOM_ANTHROPIC_MAX_CONCURRENT must be an integer from 1 to 1000; got "0"/],
    ['STORYLOOM_OPENAI_MAX_CONCURRENT', '1e9', /STORYLOOM_OPENAI_MAX_CONCURRENT must be an integer from 1 to 1000; got "1e9"/],
    ['STORYLOOM_LLM_TIMEOUT_MS', '99999999999', /STORYLOOM_LLM_TIMEOUT_MS must be an integer from 1 to 2147483647; got "99999999999"/],
    ['STORYLOOM_METRICS_PORT', '70000', /STORYLOOM_METRICS_PORT must be an integer from 0 to 65534 \(the Temporal SDK's metrics take the next port\); got "70000"/],
    // Accepted once, then the worker failed at start with "options.port should be >= 0 and < 65536 … (65536)".
    ['STORYLOOM_METRICS_PORT', '65535', /^STORYLOOM_METRICS_PORT must be an integer from 0 to 65534 \(the Temporal SDK's metrics take the next port\); got "65535"$/],
    ['STORYLOOM_EMBEDDING_DIMENSIONS', '-1', /STORYLOOM_EMBEDDING_DIMENSIONS must be an integer from 1 to 65536; got "-1"/],
    ['STORYLOOM_OUTLINE_CONTEXT_TOKENS', '10', /STORYLOOM_OUTLINE_CONTEXT_TOKENS must be an integer ≥ 1000; got "10"/],
    ['STORYLOOM_OPENAI_MAX_PER_SECOND', 'fast', /STORYLOOM_OPENAI_MAX_PER_SECOND must be a number ≥ 0/],
    ['STORYLOOM_OPENAI_MAX_PER_SECOND', '0.01', /^STORYLOOM_OPENAI_MAX_PER_SECOND must be 0 \(no cap\) or at least 0\.0167 \(one request a minute\); got "0\.01"$/],
    ['ANTHROPIC_BASE_URL', 'not a url', /ANTHROPIC_BASE_URL must be a URL/],
    ['STORYLOOM_PRICES', '{"m":{"input":1}}', /STORYLOOM_PRICES.m needs numeric "input" and "output"/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "loud"/],
    ['TEMPORAL_UI_URL', '127.0.0.1:8233', /^TEMPORAL_UI_URL must be an http:\/\/ or https:\/\/ URL like http:\/\/127\.0\.0\.1:8233; got "127\.0\.0\.1:8233"$/],
    ['TEMPORAL_UI_URL', 'localhost:8233', /^TEMPORAL_UI_URL must be an http:\/\/ or https:\/\/ URL .*; got "localhost:8233"$/],
    ['DATABASE_URL', 'localhost:5432/storyloom', /^DATABASE_URL must be a postgres:\/\/ URL like .*; got one starting "localhost:" \(the rest not shown: it may hold a password\)$/],
    ['STORYLOOM_PRICES', 'null', /^STORYLOOM_PRICES must be a JSON object like \{"model":\{"input":1,"output":5\}\}; got null$/],
    ['STORYLOOM_PRICES', '[{"input":1,"output":5}]', /^STORYLOOM_PRICES must be a JSON object/],
    ['STORYLOOM_PRICES', '5', /^STORYLOOM_PRICES must be a JSON object/],
    ['STORYLOOM_API_PORT', '99999', /^STORYLOOM_API_PORT must be an integer from 0 to 65535; got "99999"$/],
    ['STORYLOOM_CODEC_PORT', '65536', /^STORYLOOM_CODEC_PORT must be an integer from 0 to 65535; got "65536"$/],
    ['TEMPORAL_TLS', 'maybe', /^TEMPORAL_TLS must be true or false; got "maybe"$/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it.each([
    // Not a URL (a space in the host): not shown at all.
    ['postgres://app:s3cret@db example:5432/storyloom', /^DATABASE_URL must be a URL like postgres:\/\/postgres@127\.0\.0\.1:5432\/storyloom .*not shown: it may hold a password/],
    // A URL of another scheme: only its scheme is shown (its password may sit where URL parsing does not find it).
    ['mysql://app:s3cr[et@db.example/storyloom', /^DATABASE_URL must be a postgres:\/\/ URL like .*; got one starting "mysql:" \(the rest not shown: it may hold a password\)$/],
    ['jdbc:postgresql://postgres:s3cret@db.example/storyloom', /^DATABASE_URL must be a postgres:\/\/ URL like .*; got one starting "jdbc:" \(the rest not shown: it may hold a password\)$/],
  ])('rejects DATABASE_URL=%s without printing its password', (value, message) => {
    expect(() => loadConfig({ DATABASE_URL: value })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: value })).toThrow(message);
    expect(() => loadConfig({ DATABASE_URL: value })).not.toThrow(/s3cr/);
  });

  it.each([
    ['OLLAMA_HOST', 'http://user:s3cret@ollama.example:11434', /^OLLAMA_HOST must not hold a user name or password \(storyloom sends Ollama no credentials\); got "http:\/\/\*\*\*@ollama\.example:11434"$/],
    ['OPENAI_BASE_URL', 'https://user:s3cret@proxy.example/v1/', /^OPENAI_BASE_URL must not hold a user name or password \(set the key in OPENAI_API_KEY instead\); got "https:\/\/\*\*\*@proxy\.example\/v1"$/],
    ['ANTHROPIC_BASE_URL', 'https://:s3cret@proxy.example', /^ANTHROPIC_BASE_URL must not hold a user name or password \(set the key in ANTHROPIC_API_KEY instead\)/],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'https://user:s3cret@otel.example:4318', /^OTEL_EXPORTER_OTLP_ENDPOINT must not hold a user name or password \(put them in OTEL_EXPORTER_OTLP_HEADERS instead\); got "https:\/\/\*\*\*@otel\.example:4318"$/],
    // A token alone in the user part is a secret too.
    ['ANTHROPIC_BASE_URL', 'https://s3cret@proxy.example', /^ANTHROPIC_BASE_URL must not hold a user name or password/],
    // Not a URL at all (a space in the host): not shown.
    ['OLLAMA_HOST', 'http://user:s3cret@olla ma:11434', /^OLLAMA_HOST must be a URL; got a value that is not one \(not shown: it may hold a password\)$/],
  ])('rejects %s=%s (credentials in a provider URL) without printing them', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
    expect(() => loadConfig({ [name]: value })).not.toThrow(/s3cret/);
  });

  it('keeps provider URLs without credentials', () => {
    const config = loadConfig({ OLLAMA_HOST: 'http://127.0.0.1:11434/', OPENAI_BASE_URL: 'https://proxy.example/v1' });
    expect(config.llm.providers.ollama.baseUrl).toBe('http://127.0.0.1:11434');
    expect(config.llm.providers.openai.baseUrl).toBe('https://proxy.example/v1');
  });

  it('reads TEMPORAL_TLS as a boolean, ports up to 65535 and postgresql:// URLs', () => {
    expect(loadConfig({ TEMPORAL_TLS: 'true' }).temporal.tls).toEqual({});
    expect(loadConfig({ TEMPORAL_TLS: 'off' }).temporal.tls).toBeUndefined();
    expect(loadConfig({ STORYLOOM_API_PORT: '65535', STORYLOOM_CODEC_PORT: '0' })).toMatchObject({ api: { port: 65535 }, codecServer: { port: 0 } });
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p@db:5432/x' }).databaseUrl).toBe('postgresql://u:p@db:5432/x');
    expect(loadConfig({ TEMPORAL_UI_URL: 'https://ui.example/' }).temporal.uiUrl).toBe('https://ui.example');
  });

  it('points Web UI links at TEMPORAL_UI_PORT (the dev server\'s UI port) unless TEMPORAL_UI_URL is set', () => {
    expect(loadConfig({}).temporal.uiUrl).toBe('http://127.0.0.1:8233');
    const moved = loadConfig({ TEMPORAL_UI_PORT: '18233' });
    expect(moved.temporal.uiUrl).toBe('http://127.0.0.1:18233');
    // The codec server's default CORS origin is the UI's, so it follows too.
    expect(moved.codecServer.corsOrigins).toEqual(['http://127.0.0.1:18233']);
    expect(loadConfig({ TEMPORAL_UI_PORT: '18233', TEMPORAL_UI_URL: 'https://ui.example' }).temporal.uiUrl).toBe('https://ui.example');
    expect(() => loadConfig({ TEMPORAL_UI_PORT: '70000' })).toThrow(/^TEMPORAL_UI_PORT must be an integer from 1 to 65535; got "70000"$/);
  });

  it('keeps the model part whole when it contains colons', () => {
    expect(parseModelRef('X', 'ollama:qwen2.5:7b-instruct')).toEqual({ provider: 'ollama', model: 'qwen2.5:7b-instruct' });
  });
});
