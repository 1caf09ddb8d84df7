import type { InterfaceRef, ObjectRef } from '@pothos/core';
import type { Principal } from '../auth/principal.ts';
import type { AtriumError } from '../kernel/errors.ts';
import type { ProfileEntity } from '../modules/profiles/entities.ts';
import type { WorkspaceEntity } from '../modules/workspaces/entities.ts';
import type { AtriumSchemaTypes } from './builder.ts';

type Types = PothosSchemaTypes.ExtendDefaultTypes<AtriumSchemaTypes>;

export interface ViewerShape {
  principal: Principal;
  workspace: WorkspaceEntity;
}

/** Object refs the core exports so plugins add fields without importing a builder singleton. */
export interface CoreRefs {
  Workspace: ObjectRef<Types, WorkspaceEntity>;
  Viewer: ObjectRef<Types, ViewerShape>;
  Error: InterfaceRef<Types, AtriumError>;
  /** A customer profile; implemented by the profiles module, extended by plugins. */
  Profile: ObjectRef<Types, ProfileEntity>;
}
