import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import { workspaceIdOf } from '../../../graphql/helpers.ts';
import { namedArgs, operationArgRef } from '../../../graphql/operation-args.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import type { AnyChannel, ChannelCapabilities } from '../channels.ts';
import {
  Agent,
  type AgentEntity,
  ChannelInbox,
  type RoutingMatch,
  RoutingRule,
  type RoutingRuleEntity,
} from '../entities.ts';
import {
  createRoutingRule,
  deleteAgent,
  deleteRoutingRule,
  listAgents,
  listRoutingRules,
  updateRoutingRule,
  upsertAgent,
} from '../service/agents.ts';
import { createInbox, updateInbox } from '../service/inboxes.ts';
import type { ConversationTypes } from './types.ts';

function settingsOf(value: unknown): Record<string, unknown> | null {
  if (value == null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('settings must be an object', 'settings');
  }
  return value as Record<string, unknown>;
}

/** Admins configure channels' inboxes, agents and routing rules. */
export function configurationSchema(
  builder: AtriumBuilder,
  runtime: ModuleRuntime,
  types: ConversationTypes,
): void {
  const { InboxRef, PriorityEnum } = types;
  const ArgRef = operationArgRef(builder);

  const CapabilitiesRef = builder.objectRef<ChannelCapabilities>('ChannelCapabilities').implement({
    description: 'What a channel can carry',
    fields: (t) => ({
      richText: t.exposeBoolean('richText'),
      attachments: t.exposeBoolean('attachments'),
      templates: t.exposeBoolean('templates'),
      typing: t.exposeBoolean('typing'),
    }),
  });

  const ChannelRef = builder.objectRef<AnyChannel>('Channel').implement({
    description:
      'A channel adapter a plugin installed: `code`, what a send takes (`args`), what it can carry',
    fields: (t) => ({
      code: t.exposeString('code'),
      label: t.exposeString('label'),
      args: t.field({
        type: [ArgRef],
        description: 'Draw the send form from these',
        resolve: (c) => namedArgs(c.args),
      }),
      capabilities: t.field({ type: CapabilitiesRef, resolve: (c) => c.capabilities }),
      addressType: t.string({
        nullable: true,
        description: 'The identity a send goes to (email, phone); null when the channel has its own session',
        resolve: (c) => c.addressType,
      }),
      marketingConsent: t.string({
        nullable: true,
        description: 'The consent purpose a marketing send needs; null: no marketing on this channel',
        resolve: (c) => c.marketingConsent ?? null,
      }),
      webhook: t.boolean({
        description: 'Takes inbound messages and statuses on a webhook',
        resolve: (c) => !!c.webhook,
      }),
    }),
  });

  builder.queryField('channels', (t) =>
    t.field({
      type: [ChannelRef],
      description: 'Every installed channel, by code',
      authScopes: { admin: true },
      resolve: () => [...runtime.channels.values()].sort((a, b) => a.code.localeCompare(b.code)),
    }),
  );

  builder.queryField('channelInboxes', (t) =>
    t.field({
      type: [InboxRef],
      description: "The workspace's inboxes, by channel and name",
      authScopes: { admin: true },
      resolve: (_root, _args, ctx) =>
        ctx.em.find(ChannelInbox, {}, { orderBy: { channel: 'asc', name: 'asc' } }),
    }),
  );

  builder.relayMutationField(
    'createChannelInbox',
    {
      inputFields: (t) => ({
        channel: t.string({ required: true, description: 'A channel code (see `channels`)' }),
        name: t.string({ required: true }),
        address: t.string({
          description: 'What the channel sends from: a mailbox, a phone number id, an origin',
        }),
        settings: t.field({ type: 'JSON', description: "Checked by the channel's inbox settings" }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: (_root, { input }, ctx) =>
        createInbox(ctx.em, workspaceIdOf(ctx), runtime.channels, {
          ...input,
          settings: settingsOf(input.settings),
        }),
    },
    {
      outputFields: (t) => ({
        channelInbox: t.field({ type: InboxRef, resolve: (p) => p.inbox }),
        secret: t.string({
          description: 'Signs what the provider posts (and web chat identities): shown only in this answer',
          resolve: (p) => p.secret,
        }),
      }),
    },
  );

  builder.relayMutationField(
    'updateChannelInbox',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: InboxRef }),
        name: t.string(),
        address: t.string({ description: 'An empty string clears it' }),
        settings: t.field({ type: 'JSON' }),
        enabled: t.boolean({ description: 'A disabled inbox takes no webhooks and sends nothing' }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input: { id, settings, ...patch } }, ctx) => ({
        inbox: await updateInbox(ctx.em, runtime.channels, id.id, {
          ...patch,
          settings: settingsOf(settings),
        }),
      }),
    },
    { outputFields: (t) => ({ channelInbox: t.field({ type: InboxRef, resolve: (p) => p.inbox }) }) },
  );

  const AgentRef = builder.objectRef<AgentEntity>('Agent');
  builder.node(AgentRef, {
    description: 'An agent as routing sees them: teams, skills, languages, capacity',
    authScopes: { agent: true },
    id: { resolve: (a) => a.id },
    loadOne: (id, ctx) => ctx.em.findOne(Agent, { id }),
    fields: (t) => ({
      subject: t.exposeString('subject', {
        description: 'The token subject or API key id the agent signs in with',
      }),
      displayName: t.exposeString('displayName'),
      skills: t.exposeStringList('skills'),
      teams: t.exposeStringList('teams'),
      languages: t.exposeStringList('languages', { description: 'Empty: any language' }),
      maxOpen: t.exposeInt('maxOpen', {
        description: 'Most open or pending conversations routing gives them',
      }),
      available: t.exposeBoolean('available'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  builder.queryField('agents', (t) =>
    t.connection({
      type: AgentRef,
      description: 'Agents by name',
      authScopes: { agent: true },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 50, maxSize: 100 }, (page) => listAgents(ctx.em, page)),
    }),
  );

  builder.relayMutationField(
    'upsertAgent',
    {
      inputFields: (t) => ({
        subject: t.string({ required: true }),
        displayName: t.string({ description: 'Default: the subject' }),
        skills: t.stringList(),
        teams: t.stringList(),
        languages: t.stringList({ description: 'Primary language tags, e.g. ["de", "fr"]' }),
        maxOpen: t.int({ description: 'Default 10' }),
        available: t.boolean({ description: 'Default true' }),
      }),
    },
    {
      description: 'Registers an agent for routing, or changes one by subject (fields left out stay)',
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        agent: await upsertAgent(ctx.em, workspaceIdOf(ctx), input),
      }),
    },
    { outputFields: (t) => ({ agent: t.field({ type: AgentRef, resolve: (p) => p.agent }) }) },
  );

  builder.relayMutationField(
    'deleteAgent',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: AgentRef }) }) },
    {
      description: 'Routing stops choosing this agent; conversations they hold stay theirs',
      authScopes: { admin: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({ deletedId: await deleteAgent(ctx.em, input.id.id) }),
    },
    {
      outputFields: (t) => ({
        deletedAgentId: t.globalID({ resolve: (p) => ({ type: 'Agent', id: p.deletedId }) }),
      }),
    },
  );

  const MatchRef = builder.objectRef<RoutingMatch>('RoutingMatch').implement({
    description: 'What a rule matches; an empty list matches everything',
    fields: (t) => ({
      channels: t.stringList({
        description: 'Any channel the conversation used',
        resolve: (m) => m.channels ?? [],
      }),
      languages: t.stringList({
        description: "The conversation's primary language",
        resolve: (m) => m.languages ?? [],
      }),
      segments: t.stringList({
        description: 'Segment keys; the profile is in one',
        resolve: (m) => m.segments ?? [],
      }),
      intents: t.stringList({ description: "The conversation's intent", resolve: (m) => m.intents ?? [] }),
    }),
  });
  const MatchInput = builder.inputType('RoutingMatchInput', {
    fields: (t) => ({
      channels: t.stringList(),
      languages: t.stringList(),
      segments: t.stringList(),
      intents: t.stringList(),
    }),
  });

  const RuleRef = builder.objectRef<RoutingRuleEntity>('RoutingRule');
  builder.node(RuleRef, {
    description: 'Sends matching conversations to a team; the first enabled rule by position wins',
    authScopes: { agent: true },
    id: { resolve: (r) => r.id },
    loadOne: (id, ctx) => ctx.em.findOne(RoutingRule, { id }),
    fields: (t) => ({
      name: t.exposeString('name'),
      position: t.exposeInt('position'),
      match: t.field({ type: MatchRef, resolve: (r) => r.match }),
      team: t.exposeString('team', { nullable: true }),
      requiredSkills: t.exposeStringList('requiredSkills'),
      priority: t.field({ type: PriorityEnum, nullable: true, resolve: (r) => r.priority ?? null }),
      enabled: t.exposeBoolean('enabled'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  builder.queryField('routingRules', (t) =>
    t.field({
      type: [RuleRef],
      description: 'Rules in the order routing tries them',
      authScopes: { agent: true },
      resolve: (_root, _args, ctx) => listRoutingRules(ctx.em),
    }),
  );

  const matchOf = (
    match: Record<string, string[] | null | undefined> | null | undefined,
  ): RoutingMatch | null =>
    match ? Object.fromEntries(Object.entries(match).filter(([, v]) => v != null)) : null;

  builder.relayMutationField(
    'createRoutingRule',
    {
      inputFields: (t) => ({
        name: t.string({ required: true }),
        position: t.int({ description: 'Lower goes first; default: after the last rule' }),
        match: t.field({ type: MatchInput }),
        team: t.string(),
        requiredSkills: t.stringList(),
        priority: t.field({ type: PriorityEnum }),
        enabled: t.boolean({ description: 'Default true' }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        rule: await createRoutingRule(ctx.em, workspaceIdOf(ctx), runtime.channels, {
          ...input,
          match: matchOf(input.match),
        }),
      }),
    },
    { outputFields: (t) => ({ routingRule: t.field({ type: RuleRef, resolve: (p) => p.rule }) }) },
  );

  builder.relayMutationField(
    'updateRoutingRule',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: RuleRef }),
        name: t.string(),
        position: t.int(),
        match: t.field({ type: MatchInput, description: 'Replaces the whole match' }),
        team: t.string({ description: 'An empty string clears it' }),
        requiredSkills: t.stringList(),
        priority: t.field({ type: PriorityEnum, description: 'null clears it' }),
        enabled: t.boolean(),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input: { id, match, ...patch } }, ctx) => ({
        rule: await updateRoutingRule(ctx.em, runtime.channels, id.id, { ...patch, match: matchOf(match) }),
      }),
    },
    { outputFields: (t) => ({ routingRule: t.field({ type: RuleRef, resolve: (p) => p.rule }) }) },
  );

  builder.relayMutationField(
    'deleteRoutingRule',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: RuleRef }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({ deletedId: await deleteRoutingRule(ctx.em, input.id.id) }),
    },
    {
      outputFields: (t) => ({
        deletedRoutingRuleId: t.globalID({ resolve: (p) => ({ type: 'RoutingRule', id: p.deletedId }) }),
      }),
    },
  );
}
