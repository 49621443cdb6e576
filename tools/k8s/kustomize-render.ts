/**
 * Renders a kustomization the way `kubectl kustomize` does, for the features Tributary's overlays use
 * and no others (no kubectl in the test environment, and no JavaScript kustomize to rely on):
 *
 * - `resources`: YAML files, and folders holding their own kustomization.yaml (rendered first);
 * - `namespace`: set on every object but Namespaces;
 * - `patches` with `path`: strategic merge patches of Deployments and ConfigMaps, targeted by kind and
 *   name; maps merge key by key (a `null` removes the key), lists of named items (containers, env,
 *   volumes, volumeMounts) merge by `name` (`$patch: delete` removes an item), other lists replace;
 * - `images`: `name` matched against the image without tag or digest, `newName`, `newTag`, `digest`.
 *
 * Anything else in a kustomization or a patch throws, so an overlay cannot silently use a feature
 * this renders differently from kustomize.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface RenderedObject {
  /** The file it came from, relative to the workspace root. */
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly body: Record<string, unknown>;
}

type YamlMap = Record<string, unknown>;

const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'patches', 'images']);
const PATCHABLE_KINDS = new Set(['Deployment', 'ConfigMap']);
/** Lists whose items strategic merge matches by `name` in the objects we patch. */
const NAMED_LISTS = new Set(['containers', 'initContainers', 'env', 'volumes', 'volumeMounts']);

function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readYaml(path: string, shown: string): YamlMap[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((document) => {
    if (document.errors.length > 0)
      throw new Error(`${shown}: is not valid YAML: ${document.errors[0].message}`);
    const body: unknown = document.toJS();
    if (body === null || body === undefined) return [];
    if (!isMap(body)) throw new Error(`${shown}: a document is not a mapping`);
    return [body];
  });
}

function objectOf(file: string, body: YamlMap): RenderedObject {
  const metadata = isMap(body['metadata']) ? body['metadata'] : {};
  return { file, kind: String(body['kind'] ?? ''), name: String(metadata['name'] ?? ''), body };
}

/** Renders the kustomization in `folder` (absolute); file names are shown relative to `workspaceRoot`. */
export function renderKustomization(workspaceRoot: string, folder: string): RenderedObject[] {
  const shown = (path: string) => relative(workspaceRoot, path) || '.';
  const kustomizationFile = join(folder, 'kustomization.yaml');
  const [kustomization] = readYaml(kustomizationFile, shown(kustomizationFile));
  if (!kustomization) throw new Error(`${shown(kustomizationFile)}: is empty`);
  for (const field of Object.keys(kustomization)) {
    if (!KUSTOMIZATION_FIELDS.has(field)) {
      throw new Error(
        `${shown(kustomizationFile)}: ${field} is not rendered by tools/k8s/kustomize-render.ts`,
      );
    }
  }

  let objects: RenderedObject[] = [];
  for (const resource of asStrings(kustomization['resources'])) {
    const path = join(folder, resource);
    if (!existsSync(path))
      throw new Error(`${shown(kustomizationFile)}: lists ${resource}, which does not exist`);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(workspaceRoot, path));
    else objects.push(...readYaml(path, shown(path)).map((body) => objectOf(shown(path), body)));
  }

  const namespace = kustomization['namespace'];
  if (typeof namespace === 'string') {
    objects = objects.map((object) =>
      object.kind === 'Namespace'
        ? object
        : objectOf(object.file, {
            ...object.body,
            metadata: { ...(object.body['metadata'] as YamlMap), namespace },
          }),
    );
  }

  for (const entry of asList(kustomization['patches'])) {
    if (!isMap(entry) || typeof entry['path'] !== 'string' || Object.keys(entry).length !== 1) {
      throw new Error(`${shown(kustomizationFile)}: only patches with a path alone are rendered`);
    }
    const patchFile = join(folder, entry['path']);
    for (const patch of readYaml(patchFile, shown(patchFile))) {
      const target = objectOf(shown(patchFile), patch);
      if (!PATCHABLE_KINDS.has(target.kind)) {
        throw new Error(
          `${shown(patchFile)}: patches a ${target.kind}; only Deployments and ConfigMaps are rendered`,
        );
      }
      const index = objects.findIndex((object) => object.kind === target.kind && object.name === target.name);
      if (index < 0) throw new Error(`${shown(patchFile)}: no ${target.kind} ${target.name} to patch`);
      const original = objects[index];
      objects[index] = objectOf(original.file, strategicMerge(original.body, patch, '') as YamlMap);
    }
  }

  for (const image of asList(kustomization['images'])) {
    if (!isMap(image) || typeof image['name'] !== 'string') {
      throw new Error(`${shown(kustomizationFile)}: an images entry has no name`);
    }
    objects = objects.map((object) => objectOf(object.file, withImage(object.body, image)));
  }
  return objects;
}

/** The strategic merge of `patch` into `original`, for the subset described at the top. */
export function strategicMerge(original: unknown, patch: unknown, path: string): unknown {
  if (!isMap(patch)) return patch;
  if (!isMap(original)) return stripDirectives(patch, path);
  const merged: YamlMap = { ...original };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw new Error(`${path}/${key}: directive not rendered`);
    const at = `${path}/${key}`;
    if (value === null) delete merged[key];
    else if (Array.isArray(value)) merged[key] = mergeList(original[key], value, key, at);
    else merged[key] = strategicMerge(original[key], value, at);
  }
  return merged;
}

function mergeList(original: unknown, patch: unknown[], key: string, path: string): unknown[] {
  if (!NAMED_LISTS.has(key)) {
    if (patch.some((item) => isMap(item) && Object.keys(item).some((field) => field.startsWith('$')))) {
      throw new Error(`${path}: directives are rendered only in lists merged by name`);
    }
    return patch;
  }
  const result = Array.isArray(original) ? [...original] : [];
  for (const item of patch) {
    if (!isMap(item) || typeof item['name'] !== 'string') throw new Error(`${path}: an item has no name`);
    const index = result.findIndex((existing) => isMap(existing) && existing['name'] === item['name']);
    const { $patch: directive, ...fields } = item;
    if (directive === 'delete') {
      if (index < 0) throw new Error(`${path}: deletes ${item['name']}, which is not there`);
      result.splice(index, 1);
    } else if (directive !== undefined) {
      throw new Error(`${path}: $patch: ${String(directive)} is not rendered`);
    } else if (index < 0) {
      result.push(stripDirectives(fields, `${path}/${item['name']}`));
    } else {
      result[index] = strategicMerge(result[index], fields, `${path}/${item['name']}`);
    }
  }
  return result;
}

function stripDirectives(value: YamlMap, path: string): YamlMap {
  if (Object.keys(value).some((key) => key.startsWith('$')))
    throw new Error(`${path}: directive on a new item`);
  return value;
}

/** The object with kustomize's image transformer applied to its containers' images. */
function withImage(body: YamlMap, image: YamlMap): YamlMap {
  const spec = body['spec'];
  const template = isMap(spec) ? spec['template'] : undefined;
  const podSpec = isMap(template) ? template['spec'] : undefined;
  if (!isMap(podSpec)) return body;
  const replace = (containers: unknown) =>
    asList(containers).map((container) => {
      if (!isMap(container) || typeof container['image'] !== 'string') return container;
      return { ...container, image: transformImage(container['image'], image) };
    });
  const newPodSpec: YamlMap = { ...podSpec, containers: replace(podSpec['containers']) };
  if (podSpec['initContainers'] !== undefined)
    newPodSpec['initContainers'] = replace(podSpec['initContainers']);
  return {
    ...body,
    spec: { ...(spec as YamlMap), template: { ...(template as YamlMap), spec: newPodSpec } },
  };
}

export function transformImage(reference: string, image: YamlMap): string {
  const digestAt = reference.indexOf('@');
  const withoutDigest = digestAt >= 0 ? reference.slice(0, digestAt) : reference;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const tagAt = withoutDigest.indexOf(':', lastSlash + 1);
  const name = tagAt >= 0 ? withoutDigest.slice(0, tagAt) : withoutDigest;
  if (name !== image['name']) return reference;
  const suffix =
    typeof image['digest'] === 'string'
      ? `@${image['digest']}`
      : typeof image['newTag'] === 'string'
        ? `:${image['newTag']}`
        : reference.slice(name.length);
  return `${typeof image['newName'] === 'string' ? image['newName'] : name}${suffix}`;
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asStrings(value: unknown): string[] {
  return asList(value).map((item) => {
    if (typeof item !== 'string') throw new Error(`resources: ${JSON.stringify(item)} is not a path`);
    return item;
  });
}
