import {
  type AtriumBuilder,
  type CoreRefs,
  enumValues,
  type ModuleRuntime,
  NotFoundError,
  ValidationError,
  workspaceIdOf,
} from '@atrium/core';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { z } from 'zod';
import { callerOf } from './caller.ts';
import type { AssistantConfig } from './config.ts';
import { AssistantToolCall, type AssistantToolCallEntity, toolCallStatuses } from './entities.ts';
import { answerProposal } from './tools.ts';

const BOTH = ['admin', 'public'] as const;

/**
 * Assistant tools: which ones plugins registered (admins allow them in the policy), what the
 * assistant did or proposes for a profile (agents), and the customer's confirmation of a
 * high-impact proposal (Public graph, customer sessions only: nobody confirms for a customer).
 * Returns the action type, which answers carry.
 */
export function toolsSchema(builder: AtriumBuilder, refs: CoreRefs, runtime: ModuleRuntime<AssistantConfig>) {
  const Status = builder.enumType('AssistantActionStatus', {
    subGraphs: [...BOTH],
    description:
      'AWAITING_CONFIRMATION by the customer (high-impact tools), DONE, FAILED (handed to a person), DECLINED by the customer, EXPIRED unconfirmed',
    values: enumValues(toolCallStatuses),
  });
  const ActionRef = builder.objectRef<AssistantToolCallEntity>('AssistantAction').implement({
    subGraphs: [...BOTH],
    description: 'An action the assistant took or proposes for a customer through a plugin’s tool',
    fields: (t) => ({
      id: t.globalID({ resolve: (c) => ({ type: 'AssistantAction', id: c.id }) }),
      tool: t.exposeString('tool', { description: 'The tool’s code, e.g. orders.cancel' }),
      label: t.string({ resolve: (c) => runtime.assistantTools.get(c.tool)?.label ?? c.tool }),
      status: t.field({ type: Status, resolve: (c) => c.status }),
      highImpact: t.exposeBoolean('highImpact', { description: 'Runs only after the customer confirms' }),
      arguments: t.field({
        type: 'JSON',
        description: 'The arguments, as checked against the tool’s schema',
        resolve: (c) => c.args,
      }),
      summary: t.exposeString('summary', {
        nullable: true,
        description: 'What the customer was told it did',
      }),
      requestedAt: t.expose('requestedAt', { type: 'DateTime' }),
      decidedAt: t.expose('decidedAt', { type: 'DateTime', nullable: true }),
    }),
  });

  const ToolRef = builder
    .objectRef<{ code: string; label: string; description: string; highImpact: boolean; args: z.ZodObject }>(
      'AssistantTool',
    )
    .implement({
      description: 'A tool a plugin registered; the policy’s allowedTools names the ones the assistant uses',
      fields: (t) => ({
        code: t.exposeString('code'),
        label: t.exposeString('label'),
        description: t.exposeString('description'),
        highImpact: t.exposeBoolean('highImpact'),
        argumentsSchema: t.field({
          type: 'JSON',
          description: 'JSON schema of the arguments',
          resolve: (tool) => z.toJSONSchema(tool.args),
        }),
      }),
    });

  builder.queryField('assistantTools', (t) =>
    t.field({
      type: [ToolRef],
      description: 'Every tool the installed plugins register',
      authScopes: { admin: true },
      resolve: () => [...runtime.assistantTools.values()],
    }),
  );

  builder.queryField('assistantActions', (t) =>
    t.connection({
      type: ActionRef,
      description: 'What the assistant did or proposes for a profile, newest first',
      authScopes: { agent: true },
      args: { profileId: t.arg.globalID({ required: true }) },
      resolve: (_root, args, ctx) => {
        if (args.profileId.typename !== refs.Profile.name)
          throw new ValidationError('not a profile id', 'profileId');
        return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          ctx.em.find(
            AssistantToolCall,
            { profileId: args.profileId.id },
            { orderBy: { requestedAt: 'desc', id: 'desc' }, limit, offset },
          ),
        );
      },
    }),
  );

  builder.relayMutationField(
    'confirmAssistantAction',
    {
      subGraphs: ['public'],
      inputFields: (t) => ({
        id: t.globalID({ required: true, description: 'The proposed action (answer.action.id)' }),
        confirm: t.boolean({ required: true, description: 'true runs it, false declines it' }),
      }),
    },
    {
      subGraphs: ['public'],
      description: 'The customer confirms or declines an action the assistant proposed to them',
      authScopes: { customer: true },
      errors: { types: [ValidationError, NotFoundError], union: { subGraphs: ['public'] } },
      resolve: async (_root, { input }, ctx) => {
        const caller = callerOf(ctx);
        if (input.id.typename !== 'AssistantAction' || !caller.profileId)
          throw new NotFoundError('the proposed action');
        const decision = await answerProposal(
          ctx.em,
          runtime.assistantTools,
          {
            workspaceId: workspaceIdOf(ctx),
            callId: input.id.id,
            profileId: caller.profileId,
            confirm: input.confirm,
          },
          ctx.logger,
        );
        return { action: decision.call, text: decision.text };
      },
    },
    {
      subGraphs: ['public'],
      outputFields: (t) => ({
        action: t.field({ type: ActionRef, nullable: true, resolve: (p) => p.action }),
        text: t.string({ description: 'What to tell the customer', resolve: (p) => p.text }),
      }),
    },
  );
  return ActionRef;
}
