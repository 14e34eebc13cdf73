// Assets the bundlers load: PNG as a URL, SVG as text.
declare module '*.png' {
  const url: string;
  export default url;
}
declare module '*.svg' {
  const source: string;
  export default source;
}
