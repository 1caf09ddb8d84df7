// The public API of @atrium/core: what plugins and deployments may import.
export type { Principal, TokenVerifier, VerifiedToken } from './auth/principal.ts';
// Customer sessions (`cst_…`): customers acting for themselves, e.g. web chat visitors.
export { type CallerScope, CUSTOMER_SCOPE, type Scope, scopeNames, scopesForRoles } from './auth/scopes.ts';
export { createdAtColumn, idColumn, updatedAtColumn } from './db/columns.ts';
export { WORKSPACE_FILTER } from './db/orm.ts';
export { schemaDrift } from './db/schema-drift.ts';
export type { AtriumBuilder } from './graphql/builder.ts';
export type { GraphQLContext } from './graphql/context.ts';
export { enumValues, workspaceIdOf } from './graphql/helpers.ts';
export type { CoreRefs, ViewerShape } from './graphql/refs.ts';
export { RateLimiter } from './http/rate-limit.ts';
export { BodyTooLargeError, readBody } from './http/request-body.ts';
export {
  type AtriumConfig,
  type AtriumConfigFile,
  defineConfig,
  loadConfig,
  type Settings,
} from './kernel/config.ts';
export { assertPublicHost, isObviouslyPrivate, isPrivateAddress } from './kernel/egress.ts';
export {
  AtriumError,
  ConfigError,
  ForbiddenError,
  NotFoundError,
  PluginError,
  UnauthenticatedError,
  ValidationError,
} from './kernel/errors.ts';
export { type DomainEvent, type NewDomainEvent, recordEvent } from './kernel/events.ts';
export { isUuid } from './kernel/ids.ts';
export type { JobQueue, SendOptions } from './kernel/jobs.ts';
export type { LiveBus } from './kernel/live.ts';
export type { Logger } from './kernel/logger.ts';
export {
  type AtriumPlugin,
  type DataSubjectContext,
  type DataSubjectScope,
  definePlugin,
  type EventHandlerContext,
  type EventSubscription,
  type JobContext,
  type JobDefinition,
  type MigrationDefinition,
  type ModuleDefinition,
  type ModuleRuntime,
} from './kernel/plugin.ts';
export { CORE_VERSION } from './kernel/version.ts';
export {
  type AnyAssistantTool,
  type AssistantTool,
  type AssistantToolContext,
  type AssistantToolResult,
  type ChatChunk,
  type ChatRequest,
  type ChatResult,
  defineAssistantTool,
  type EmbedRequest,
  type JsonSchema,
  LlmError,
  type LlmErrorCode,
  type LlmMessage,
  type LlmProvider,
  type LlmTool,
  type LlmToolCall,
  OllamaProvider,
} from './llm/index.ts';
export { type AuditRecord, type AuditTarget, recordAudit } from './modules/audit/service.ts';
// What plugins that write content use (the assistant drafts knowledge-base articles): entries are
// created as drafts and go through the same review workflow as an editor's.
export { ensureKnowledgeBaseType, KB_ARTICLE_TYPE } from './modules/content/knowledge/knowledge-base.ts';
export { type Actor as ContentActor, createEntry } from './modules/content/service/entries.ts';
export { defaultLocale, listLocales } from './modules/content/service/locales.ts';
export {
  type AnyChannel,
  type ChannelCapabilities,
  type ChannelDefinition,
  type ChannelSendContext,
  type DeliveryStatusUpdate,
  defineChannel,
  type InboundMessage,
  type InboxView,
  type OutboundMessage,
  type RenderedTemplate,
  type SendResult,
  type WebhookPayload,
  type WebhookRequest,
  WebhookSignatureError,
} from './modules/conversations/channels.ts';
export type { AttachmentMeta, MessagePart } from './modules/conversations/entities.ts';
// What channel plugins read and write: inboxes, the thread, inbound messages and live notices.
export {
  Agent,
  ChannelInbox,
  type ChannelInboxEntity,
  Conversation,
  type ConversationEntity,
  Message,
  type MessageAuthor,
  type MessageEntity,
} from './modules/conversations/entities.ts';
export { conversationDependencies, serviceLevels } from './modules/conversations/levels.ts';
export {
  type HandoffOutcome,
  type HandoffRequest,
  handoffPriorities,
  requestHandoff,
} from './modules/conversations/service/handoff.ts';
export { createInbox, inboxView } from './modules/conversations/service/inboxes.ts';
export {
  conversationNotices,
  conversationTopic,
  type LiveNotice,
  type LiveNoticeKind,
  messageNotices,
  publishNotices,
  type ReceivedMessage,
  receiveInbound,
  type SendDependencies,
  type SendInput,
  sendMessage,
  workspaceTopic,
} from './modules/conversations/service/messages.ts';
export { classifyMessage } from './modules/conversations/service/routing.ts';
export {
  CustomerSession,
  type CustomerSessionEntity,
  type SessionIdentity,
} from './modules/customer-sessions/entities.ts';
export {
  authenticateCustomerSession,
  CUSTOMER_SESSION_PREFIX,
  CustomerSessionConflictError,
  endCustomerSession,
  getCustomerSession,
  type IdentifiedCustomer,
  identifyCustomerSession,
  type OpenedCustomerSession,
  openCustomerSession,
} from './modules/customer-sessions/service.ts';
export {
  type AnyStep,
  defineStep,
  type EnrollmentView,
  type JourneyStep,
  type StepContext,
  type StepResult,
} from './modules/journeys/steps/step.ts';
export { type ConsentPurpose, consentPurposes } from './modules/profiles/entities.ts';
export {
  assertConsent,
  ConsentRequiredError,
  consentDefaults,
  hasConsent,
} from './modules/profiles/privacy/consent.ts';
export type { ArgDef, ArgDefs, ArgValues } from './modules/profiles/segments/conditions.ts';
export type { EventAggregate } from './modules/profiles/segments/event-aggregates.ts';
export {
  defineSegmentOperator,
  type ProfileFacts,
  type SegmentOperator,
} from './modules/profiles/segments/operators.ts';
export { belongsToWorkspace, Workspace, type WorkspaceEntity } from './modules/workspaces/entities.ts';
export {
  indexJobsFor,
  PROFILE_FILTER,
  type SearchDocument,
  type SearchIndexJobData,
  type SearchSource,
} from './search/index.ts';
export { type Atrium, type AtriumOptions, createAtrium, type ProcessRole } from './server.ts';
