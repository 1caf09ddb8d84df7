import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { ValidationError } from '../../../kernel/errors.ts';
import type { IdentityType } from '../entities.ts';

export interface IdentityKey {
  type: IdentityType;
  value: string;
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * The one spelling an identity is stored and matched in: e-mail trimmed and lower-cased,
 * phone in E.164 (international format required: a bare national number is ambiguous).
 * `field` names the input in the error.
 */
export function normaliseIdentity(type: IdentityType, raw: unknown, field: string = type): IdentityKey {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    throw new ValidationError(`${field} must be a string`, field);
  }
  const value = String(raw).trim();
  if (value.length === 0) throw new ValidationError(`${field} must not be empty`, field);
  if (value.length > 320) throw new ValidationError(`${field} must be at most 320 characters`, field);
  switch (type) {
    case 'email': {
      const email = value.toLowerCase();
      if (!EMAIL.test(email)) throw new ValidationError(`${field} is not an e-mail address`, field);
      return { type, value: email };
    }
    case 'phone': {
      const phone = parsePhoneNumberFromString(value.startsWith('00') ? `+${value.slice(2)}` : value);
      if (!phone?.isValid()) {
        throw new ValidationError(
          `${field} must be a valid phone number in international format (+41…)`,
          field,
        );
      }
      return { type, value: phone.number };
    }
    default:
      return { type, value };
  }
}

/** Keeps a value recognisable in explanations without spelling out personal data. */
export function maskIdentity(key: IdentityKey): string {
  if (key.type === 'email') {
    const [local = '', domain = ''] = key.value.split('@');
    return `${local.slice(0, 1)}***@${domain}`;
  }
  if (key.type === 'phone') return `${key.value.slice(0, 4)}***${key.value.slice(-2)}`;
  // Ids can be personal data too (a customer number): show just enough to tell two apart.
  return key.value.length > 6 ? `${key.value.slice(0, 3)}***${key.value.slice(-1)}` : '***';
}
