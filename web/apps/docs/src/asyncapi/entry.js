// The AsyncAPI viewer for this page, bundled by build.mjs: the React component without its parser. The
// documents come parsed (stringified) from the build, so nothing here validates, and nothing needs eval.
import { createElement } from 'react'
import { createRoot } from 'react-dom/client'
import AsyncApi from '@asyncapi/react-component/lib/esm/without-parser.js'

window.AsyncApiView = {
  /** Renders `props` ({schema, config}) into `element`; returns the root, to unmount before reuse. */
  render(props, element) {
    const root = createRoot(element)
    root.render(createElement(AsyncApi, props))
    return root
  },
}
