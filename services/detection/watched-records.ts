import type { TagChange } from '../shared/model';

// The parts of CloudTrail records for calls that can silence sg-warden without touching a rule: tags on
// security groups and managed prefix lists. What they say is only a hint: detection reads EC2 before it
// believes any of it.

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** A list as CloudTrail writes one: `{items: [...]}`, a plain array, or a lone object. */
function listOf(value: unknown): Json[] {
  if (Array.isArray(value)) return value.filter(isObject);
  if (!isObject(value)) return [];
  if ('items' in value) return listOf(value.items);
  return [value];
}

/** The first of these fields present on the object (CloudTrail writes older EC2 APIs in camelCase, newer in PascalCase). */
function field(object: Json, ...names: string[]): unknown {
  for (const name of names) if (object[name] !== undefined) return object[name];
  return undefined;
}

/** A newer API's request, which CloudTrail nests under `<Action>Request`; older ones are flat. */
function unwrap(params: Json, action: string): Json {
  const nested = params[`${action}Request`];
  return isObject(nested) ? nested : params;
}

function tagsOf(value: unknown): TagChange['tags'] {
  return listOf(value).flatMap((t) => {
    const key = text(field(t, 'key', 'Key'));
    if (!key) return [];
    const raw = field(t, 'value', 'Value');
    return [{ key, value: typeof raw === 'string' ? raw : null }];
  });
}

/** CreateTags / DeleteTags: the security groups among the resources, and the tags. */
export function tagChangeOf(params: Json): TagChange {
  const request = unwrap(params, 'CreateTags');
  const resources = listOf(field(request, 'resourcesSet', 'ResourcesSet', 'resourceIdSet')).map((r) =>
    text(field(r, 'resourceId', 'ResourceId')),
  );
  // Some writers give resource IDs as plain strings.
  const plain = field(request, 'resourceIds', 'Resources', 'ResourceId');
  const strings = Array.isArray(plain) ? plain.map(text) : [text(plain)];
  const ids = [...resources, ...strings].filter((id): id is string => id?.startsWith('sg-') === true);
  return {
    groupIds: [...new Set(ids)],
    tags: tagsOf(field(request, 'tagSet', 'TagSet', 'tags', 'Tags', 'Tag')),
  };
}

/** CreateSecurityGroup's tag specifications for the group itself (other resource types left out). */
export function createdGroupTags(params: Json, groupId: string | null): TagChange | null {
  const specs = listOf(field(params, 'tagSpecificationSet', 'TagSpecificationSet', 'TagSpecification'));
  const tags = specs
    .filter((s) => (text(field(s, 'resourceType', 'ResourceType')) ?? 'security-group') === 'security-group')
    .flatMap((s) => tagsOf(field(s, 'tags', 'Tags', 'Tag', 'tagSet')));
  if (!groupId || tags.length === 0) return null;
  return { groupIds: [groupId], tags };
}

/** The first prefix-list ID found in a value (a response nests it at different depths per API version). */
function findPrefixListId(value: unknown, depth = 0): string | null {
  if (depth > 4) return null;
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = findPrefixListId(v, depth + 1);
      if (found) return found;
    }
    return null;
  }
  if (!isObject(value)) return null;
  const direct = text(field(value, 'prefixListId', 'PrefixListId'));
  if (direct?.startsWith('pl-')) return direct;
  for (const v of Object.values(value)) {
    const found = findPrefixListId(v, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Create/ModifyManagedPrefixList: the list (from the request, or for a new list from the response) and
 * the CIDRs the call says it added.
 */
export function prefixListChangeOf(
  eventName: string,
  params: Json,
  response: Json | null,
): { id: string | null; added: string[] } {
  const request = unwrap(params, eventName);
  const fromRequest = text(field(request, 'PrefixListId', 'prefixListId'));
  const id = fromRequest ?? findPrefixListId(response);
  const added = listOf(
    field(request, 'AddEntry', 'AddEntries', 'addEntry', 'addEntrySet', 'Entry', 'Entries'),
  )
    .map((e) => text(field(e, 'Cidr', 'cidr')))
    .filter((c): c is string => c !== null);
  return { id, added };
}

/** UpdateSecurityGroupRuleDescriptionsIngress/Egress by rule ID: the rule IDs it names. */
export function describedRuleIds(eventName: string, params: Json): string[] {
  const request = unwrap(params, eventName);
  const list = listOf(
    field(
      request,
      'securityGroupRuleDescriptionSet',
      'securityGroupRuleDescriptions',
      'SecurityGroupRuleDescriptions',
      'SecurityGroupRuleDescription',
    ),
  );
  return list
    .map((d) => text(field(d, 'securityGroupRuleId', 'SecurityGroupRuleId')))
    .filter((id): id is string => id !== null);
}
