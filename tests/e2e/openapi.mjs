// Every answer the end-to-end tests get from dynauth is checked against docs/openapi.yaml with a
// JSON Schema 2020-12 validator (Ajv): the status must be documented for the operation and a JSON
// body must match its schema. The harness calls `checkAnswer` on every response; answers on paths
// the description does not name (a tenant's origin, through the gateway) are not dynauth's own and
// are skipped. A mismatch throws, so the test that made the request fails, naming it.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const spec = parse(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// Schemas refer to each other as #/components/schemas/X: register the whole document once.
ajv.addSchema({ ...spec, $id: 'openapi' }, 'openapi');

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options'];
/** [regex, template] for each path, literal segments before templated ones. */
const routes = Object.keys(spec.paths).map((template) => [
  new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  template,
]);
const validators = new Map();
const checked = { answers: 0, skipped: 0 };

/** How many answers were checked against the description, and how many were not dynauth's own. */
export const openapiStats = checked;

function resolve(ref) {
  return ref.replace(/^#\//, '').split('/').reduce((node, key) => node[key.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
}

function deref(node) {
  return node && node.$ref ? deref(resolve(node.$ref)) : node;
}

function validatorFor(pointer) {
  if (!validators.has(pointer)) validators.set(pointer, ajv.getSchema(`openapi#${pointer}`));
  return validators.get(pointer);
}

const escape = (key) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Checks one answer: `method`, the request `path` (query included or not), `status`, the
 * response `contentType` and its parsed `body`. Throws an Error naming what does not match.
 */
export function checkAnswer(method, path, status, contentType, body) {
  const pathname = path.split('?')[0];
  const route = routes.find(([re]) => re.test(pathname));
  const verb = method.toLowerCase();
  if (!route || verb === 'head') {
    checked.skipped += 1;
    return;
  }
  const [, template] = route;
  const item = spec.paths[template];
  const operation = item[verb];
  const where = `${method} ${pathname} -> ${status}`;
  let response;
  let pointer;
  if (operation) {
    const responses = operation.responses ?? {};
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k]);
    if (key) {
      response = deref(responses[key]);
      const raw = responses[key];
      pointer = raw.$ref ? raw.$ref.replace(/^#/, '') : `/paths/${escape(template)}/${verb}/responses/${key}`;
    }
  }
  // Answers every route may give (the description's conventions): 405 for another method, 500
  // config_error / internal_error, 503 unavailable, 400 invalid_path: the error shape.
  if (!response) {
    if (![400, 405, 500, 503].includes(status)) {
      throw new Error(`OpenAPI: ${where}: status ${status} is not documented for ${template} ${verb.toUpperCase()}`);
    }
    response = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    pointer = null;
  }
  checked.answers += 1;
  const json = /^application\/(.+\+)?json/.test(contentType ?? '');
  const declared = response.content?.['application/json'];
  if (!json) {
    if (declared && status !== 204) throw new Error(`OpenAPI: ${where}: answered ${contentType || 'no body'}, documented JSON`);
    return;
  }
  if (!declared) throw new Error(`OpenAPI: ${where}: answered JSON, documented without a JSON body`);
  const validate = pointer ? validatorFor(`${pointer}/content/application~1json/schema`) : validatorFor('/components/schemas/Error');
  if (!validate) throw new Error(`OpenAPI: ${where}: no schema at ${pointer}`);
  if (!validate(body)) {
    const problems = validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    throw new Error(`OpenAPI: ${where}: the body does not match the description: ${problems.join('; ')}\nbody: ${JSON.stringify(body)}`);
  }
}
