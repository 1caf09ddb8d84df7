/**
 * Expected failures carry a stable `code` so that HTTP and GraphQL layers can translate
 * them into typed answers; anything else is an unexpected error and is masked.
 */
export class AtriumError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A setting is missing or wrong: boot stops with this one message. */
export class ConfigError extends AtriumError {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super('CONFIG_INVALID', `Invalid configuration: ${setting}: ${message}`);
    this.setting = setting;
  }
}

/** A plugin is incompatible with this core or its options fail validation. */
export class PluginError extends AtriumError {
  readonly plugin: string;
  constructor(plugin: string, message: string) {
    super('PLUGIN_INVALID', `Plugin "${plugin}": ${message}`);
    this.plugin = plugin;
  }
}

/** Input that breaks a rule; `field` names the offending input path when there is one. */
export class ValidationError extends AtriumError {
  readonly field: string | null;
  constructor(message: string, field: string | null = null) {
    super('VALIDATION_FAILED', message);
    this.field = field;
  }
}

export class NotFoundError extends AtriumError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} was not found`);
  }
}

export class UnauthenticatedError extends AtriumError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends AtriumError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}
