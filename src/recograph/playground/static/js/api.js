// The only way the playground talks to the server: POST graphql (relative to the page).

export class ApiError extends Error {
  constructor(message, code = "ERROR") {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }
}

const ENDPOINT = new URL("graphql", document.baseURI).toString();

// Run a query; resolve to `data`, or reject with an ApiError that reads well in the page.
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new ApiError(`could not reach the recograph API at ${ENDPOINT} (${error.message})`, "NETWORK");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the API answered HTTP ${response.status} ${response.statusText} without a JSON body`, "HTTP");
  }
  if (body?.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, first.extensions?.code ?? "ERROR");
  }
  if (!response.ok) {
    throw new ApiError(body?.error ?? `the API answered HTTP ${response.status}`, "HTTP");
  }
  return body.data;
}

// Run `load()` but hand results only from the latest call to `show` (older answers are dropped),
// so fast typing or dragging never shows a stale answer.
export function latest() {
  let counter = 0;
  return async (load, show, fail) => {
    const mine = ++counter;
    try {
      const result = await load();
      if (mine === counter) show(result);
    } catch (error) {
      if (mine === counter) fail(error);
    }
  };
}

// Memoise a promise-returning function per key for the life of the page.
export function memo(fn) {
  const cache = new Map();
  return (key = "") => {
    if (!cache.has(key)) {
      const promise = fn(key);
      cache.set(key, promise);
      promise.catch(() => cache.delete(key));
    }
    return cache.get(key);
  };
}

// Walk a connection `first: 100` at a time; `pick(data)` returns the connection.
export async function walk(query, variables, pick, { max = 5000, pageSize = 100 } = {}) {
  const nodes = [];
  let after = null;
  let total = 0;
  for (;;) {
    const data = await gql(query, { ...variables, first: pageSize, after });
    const connection = pick(data);
    total = connection.totalCount;
    nodes.push(...connection.edges);
    if (!connection.pageInfo.hasNextPage || nodes.length >= max) break;
    after = connection.pageInfo.endCursor;
  }
  return { edges: nodes, totalCount: total };
}

export const PRODUCT_FIELDS = "id name brand category price inStock promoted createdAt";

export const categories = memo(async () => {
  const data = await gql("{ categories { name productCount inStockCount } }");
  return data.categories;
});

export const product = memo(async (id) => {
  const data = await gql(`query($id: Int!) { product(id: $id) { ${PRODUCT_FIELDS} } }`, { id: Number(id) });
  return data.product;
});
