// The API reference: the merged OpenAPI document in Swagger UI and each service's AsyncAPI document in the
// AsyncAPI viewer. Each viewer is loaded from this origin the first time its tab is shown (the page's CSP
// allows scripts from 'self' only, and no inline script).
const BASE = '/api/docs/'
const OPENAPI_URL = '/api/v1/openapi.json'
const SERVICE_NAMES = {
  identity: '身份与账户 (identity)',
  vehicle: '机动车 (vehicle)',
  license: '驾驶证 (license)',
  'plate-pool': '号牌预选 (plate-pool)',
  violation: '交通违法 (violation)',
  notify: '短信通知 (notify)',
}

const loaded = new Map()

/** Adds a script or style sheet of ours once; resolves when it has loaded. */
function load(kind, path) {
  if (!loaded.has(path)) {
    loaded.set(
      path,
      new Promise((resolve, reject) => {
        const el = kind === 'script' ? document.createElement('script') : document.createElement('link')
        if (kind === 'script') el.src = BASE + path
        else Object.assign(el, { rel: 'stylesheet', href: BASE + path })
        el.addEventListener('load', () => resolve())
        el.addEventListener('error', () => reject(new Error(`无法加载 ${path}`)))
        document.head.append(el)
      }),
    )
  }
  return loaded.get(path)
}

function showStatus(view, text, isError = false) {
  const p = document.createElement('p')
  p.className = isError ? 'status error' : 'status'
  p.textContent = text
  view.replaceChildren(p)
}

async function fetchOk(url, as) {
  const response = await fetch(url, { headers: { accept: as === 'json' ? 'application/json' : '*/*' } })
  if (!response.ok) throw new Error(`${url} 返回 ${response.status}`)
  return as === 'json' ? response.json() : response.text()
}

let openapiShown = false
async function showOpenapi() {
  if (openapiShown) return
  openapiShown = true
  const view = document.getElementById('openapi-view')
  try {
    const [spec] = await Promise.all([
      fetchOk(OPENAPI_URL, 'json'),
      load('style', 'vendor/swagger-ui.css'),
      load('script', 'vendor/swagger-ui-bundle.js'),
    ])
    const target = document.createElement('div')
    view.replaceChildren(target)
    labelServerPicker(target)
    window.SwaggerUIBundle({
      spec,
      domNode: target,
      layout: 'BaseLayout',
      deepLinking: false, // the page's hash picks the tab
      validatorUrl: null, // never ask validator.swagger.io
      docExpansion: 'list',
      defaultModelsExpandDepth: 0,
      tryItOutEnabled: false,
    })
  } catch (error) {
    openapiShown = false
    showStatus(view, `接口文档加载失败：${error.message}。请刷新页面重试。`, true)
  }
}

/** Swagger UI's server picker is a <select> without a label: name it for screen readers once it appears. */
function labelServerPicker(root) {
  const observer = new MutationObserver(() => {
    const select = root.querySelector('select#servers')
    if (select && !select.hasAttribute('aria-label')) {
      select.setAttribute('aria-label', '服务器 (Servers)')
      observer.disconnect()
    }
  })
  observer.observe(root, { childList: true, subtree: true })
}

let services = null
async function serviceList() {
  if (services === null) services = await fetchOk(BASE + 'events/index.json', 'json')
  return services
}

let eventsShown = null
async function showEvents(name) {
  const view = document.getElementById('events-view')
  const picker = document.getElementById('service')
  try {
    const list = await serviceList()
    if (picker.options.length === 0) {
      for (const s of list) picker.append(new Option(SERVICE_NAMES[s.name] ?? s.name, s.name))
    }
    const chosen = list.find((s) => s.name === name) ?? list[0]
    if (!chosen) return showStatus(view, '没有找到任何服务的事件文档。', true)
    picker.value = chosen.name
    const source = document.getElementById('service-source')
    source.href = BASE + chosen.file
    source.setAttribute('download', `${chosen.name}-asyncapi.yaml`)
    if (eventsShown === chosen.name) return
    eventsShown = chosen.name
    showStatus(view, `正在加载 ${SERVICE_NAMES[chosen.name] ?? chosen.name} 的事件文档…`)
    const [parsed] = await Promise.all([
      fetchOk(BASE + chosen.parsed, 'text'),
      load('style', 'vendor/asyncapi.css'),
      load('script', 'vendor/asyncapi.js'),
    ])
    if (eventsShown !== chosen.name) return // another service was picked meanwhile
    // A fresh element for each document: the viewer makes a React root per element.
    const target = document.createElement('div')
    view.replaceChildren(target)
    window.AsyncApiView.render(
      { schema: parsed, config: { show: { sidebar: false, errors: true } } },
      target,
    )
  } catch (error) {
    eventsShown = null
    showStatus(view, `事件文档加载失败：${error.message}。请刷新页面重试。`, true)
  }
}

/** `#openapi` (the default) or `#events/<service>`. */
function route() {
  const [tab, service] = location.hash.replace(/^#/, '').split('/')
  const events = tab === 'events'
  document.getElementById('openapi-panel').hidden = events
  document.getElementById('events-panel').hidden = !events
  for (const [id, on] of [['tab-openapi', !events], ['tab-events', events]]) {
    const link = document.getElementById(id)
    if (on) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  document.title = `${events ? '事件 (AsyncAPI)' : '接口 (OpenAPI)'} · 接口文档 · 互联网交通安全综合服务管理平台`
  if (events) showEvents(service)
  else showOpenapi()
}

document.getElementById('service').addEventListener('change', (event) => {
  location.hash = `events/${event.target.value}`
})
window.addEventListener('hashchange', route)
route()
