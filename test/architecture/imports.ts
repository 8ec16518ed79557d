/**
 * The imports of a TypeScript file, read with TypeScript's own parser, so an `import(` inside a
 * string, a comment or a template is no import. Every form counts: `import … from`,
 * `import type`, side-effect `import '…'`, `export … from`, dynamic `import('…')`, a type query
 * `typeof import('…')` or `import('…').Name`, and `require('…')`: a type-only dependency points a
 * layer upward as much as a runtime one.
 */
import ts from 'typescript';

export interface ImportRef {
  /** The module specifier as written; undefined for a dynamic import of a computed name. */
  specifier: string | undefined;
  form: 'import' | 'export-from' | 'dynamic' | 'require';
  /** 1-based line of the `import` / `export` / `require` keyword. */
  line: number;
}

/** Every import of `text` (a TypeScript module), in source order. */
export function readImports(text: string): ImportRef[] {
  const source = ts.createSourceFile('module.ts', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const refs: ImportRef[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const literal = (node: ts.Node | undefined) => (node && ts.isStringLiteralLike(node) ? node.text : undefined);
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      refs.push({ specifier: literal(node.moduleSpecifier), form: 'import', line: lineOf(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      refs.push({ specifier: literal(node.moduleReference.expression), form: 'require', line: lineOf(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      refs.push({ specifier: literal(node.moduleSpecifier), form: 'export-from', line: lineOf(node) });
    } else if (ts.isImportTypeNode(node)) {
      // `typeof import('…')`, `import('…').Name` in a type position.
      const argument = ts.isLiteralTypeNode(node.argument) ? literal(node.argument.literal) : undefined;
      refs.push({ specifier: argument, form: 'dynamic', line: lineOf(node) });
    } else if (ts.isCallExpression(node)) {
      const [first] = node.arguments;
      const single = node.arguments.length === 1 ? literal(first) : undefined;
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        refs.push({ specifier: single, form: 'dynamic', line: lineOf(node) });
      } else if (ts.isIdentifier(node.expression) && node.expression.text === 'require' && single !== undefined) {
        refs.push({ specifier: single, form: 'require', line: lineOf(node) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}
