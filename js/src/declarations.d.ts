// Assets the bundlers load: PNG as a URL, SVG and Python source as text.
declare module '*.png' {
  const url: string;
  export default url;
}
declare module '*.svg' {
  const source: string;
  export default source;
}
declare module '*.py' {
  const source: string;
  export default source;
}
