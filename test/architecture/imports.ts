/**
 * The imports of a TypeScript file, read with TypeScript's own scanner (TypeScript 7 has no
 * JavaScript parser; its scanner knows strings, comments, templates and regular expressions,
 * so an `import(` inside a string or a comment is no import). Every form counts: `import … from`,
 * `import type`, side-effect `import '…'`, `export … from`, dynamic `import('…')`, a type query
 * `typeof import('…')` and `require('…')`: a type-only dependency points a layer upward as much
 * as a runtime one.
 */
import { createScanner, tokenIsIdentifierOrKeyword } from 'typescript/unstable/ast/scanner';
import { SyntaxKind } from 'typescript/unstable/ast';

export interface ImportRef {
  /** The module specifier as written; undefined for a dynamic import of a computed name. */
  specifier: string | undefined;
  form: 'import' | 'export-from' | 'dynamic' | 'require';
  /** 1-based line of the `import` / `export` / `require` keyword. */
  line: number;
}

interface Token {
  kind: SyntaxKind;
  text: string;
  value: string;
  pos: number;
}

/**
 * Keywords after which an operand begins, so a `/` there starts a regular expression; after any
 * other word (an identifier, `this`, a contextual keyword used as a name such as `type`) and
 * after the tokens in ENDS_OPERAND it divides.
 */
const BEFORE_OPERAND = new Set<SyntaxKind>([
  SyntaxKind.ReturnKeyword, SyntaxKind.TypeOfKeyword, SyntaxKind.CaseKeyword, SyntaxKind.DoKeyword, SyntaxKind.ElseKeyword,
  SyntaxKind.InKeyword, SyntaxKind.InstanceOfKeyword, SyntaxKind.NewKeyword, SyntaxKind.DeleteKeyword, SyntaxKind.VoidKeyword,
  SyntaxKind.ThrowKeyword, SyntaxKind.YieldKeyword, SyntaxKind.AwaitKeyword, SyntaxKind.OfKeyword,
]);

const ENDS_OPERAND = new Set<SyntaxKind>([
  SyntaxKind.NumericLiteral, SyntaxKind.BigIntLiteral, SyntaxKind.StringLiteral,
  SyntaxKind.RegularExpressionLiteral, SyntaxKind.NoSubstitutionTemplateLiteral, SyntaxKind.TemplateTail,
  SyntaxKind.CloseParenToken, SyntaxKind.CloseBracketToken, SyntaxKind.PlusPlusToken, SyntaxKind.MinusMinusToken,
]);

function divides(previous: SyntaxKind | undefined): boolean {
  if (previous === undefined) return false;
  if (ENDS_OPERAND.has(previous)) return true;
  return tokenIsIdentifierOrKeyword(previous) && !BEFORE_OPERAND.has(previous);
}

const LITERAL = new Set<SyntaxKind>([SyntaxKind.StringLiteral, SyntaxKind.NoSubstitutionTemplateLiteral]);

function tokenize(text: string): Token[] {
  const scanner = createScanner(true, 0, text);
  const tokens: Token[] = [];
  // What each open `{` belongs to: a block or object, or a template's `${`.
  const braces: Array<'brace' | 'template'> = [];
  for (let kind = scanner.scan(); kind !== SyntaxKind.EndOfFile; kind = scanner.scan()) {
    const previous = tokens.at(-1)?.kind;
    if ((kind === SyntaxKind.SlashToken || kind === SyntaxKind.SlashEqualsToken) && !divides(previous)) {
      kind = scanner.reScanSlashToken();
    } else if (kind === SyntaxKind.CloseBraceToken && braces.at(-1) === 'template') {
      kind = scanner.reScanTemplateToken(false);
      if (kind === SyntaxKind.TemplateTail) braces.pop();
    } else if (kind === SyntaxKind.OpenBraceToken) {
      braces.push('brace');
    } else if (kind === SyntaxKind.CloseBraceToken) {
      braces.pop();
    }
    if (kind === SyntaxKind.TemplateHead) braces.push('template');
    tokens.push({ kind, text: scanner.getTokenText(), value: scanner.getTokenValue(), pos: scanner.getTokenStart() });
  }
  return tokens;
}

/** Every import of `text` (a TypeScript module), in order. */
export function readImports(text: string): ImportRef[] {
  const tokens = tokenize(text);
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const lineOf = (pos: number) => {
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= pos) line++;
    return line + 1;
  };
  const at = (i: number): Token | undefined => tokens[i];
  const refs: ImportRef[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    // `x.import(…)`, `x.require(…)`: a property, not the keyword.
    if (at(i - 1)?.kind === SyntaxKind.DotToken) continue;
    const line = lineOf(token.pos);
    if (token.kind === SyntaxKind.ImportKeyword) {
      const next = at(i + 1);
      if (next?.kind === SyntaxKind.DotToken) continue; // import.meta
      if (next?.kind === SyntaxKind.OpenParenToken) {
        const argument = at(i + 2);
        const literal = argument && LITERAL.has(argument.kind) && at(i + 3)?.kind === SyntaxKind.CloseParenToken;
        refs.push({ specifier: literal ? argument.value : undefined, form: 'dynamic', line });
        continue;
      }
      // A static import: its clause holds no string, so the first string is the specifier.
      for (let j = i + 1; j < tokens.length && tokens[j]!.kind !== SyntaxKind.SemicolonToken; j++) {
        if (tokens[j]!.kind === SyntaxKind.StringLiteral) {
          refs.push({ specifier: tokens[j]!.value, form: 'import', line });
          break;
        }
      }
    } else if (token.kind === SyntaxKind.ExportKeyword) {
      let j = i + 1;
      if (at(j)?.kind === SyntaxKind.TypeKeyword) j++;
      if (at(j)?.kind === SyntaxKind.OpenBraceToken) {
        while (j < tokens.length && tokens[j]!.kind !== SyntaxKind.CloseBraceToken) j++;
        j++;
      } else if (at(j)?.kind === SyntaxKind.AsteriskToken) {
        j++;
        if (at(j)?.kind === SyntaxKind.AsKeyword) j += 2; // export * as name from
      } else {
        continue; // export const / function / class / default …: no module named
      }
      if (at(j)?.kind === SyntaxKind.FromKeyword && at(j + 1)?.kind === SyntaxKind.StringLiteral) {
        refs.push({ specifier: at(j + 1)!.value, form: 'export-from', line });
      }
    } else if (token.kind === SyntaxKind.RequireKeyword && at(i + 1)?.kind === SyntaxKind.OpenParenToken) {
      const argument = at(i + 2);
      if (argument && LITERAL.has(argument.kind)) refs.push({ specifier: argument.value, form: 'require', line });
    }
  }
  return refs;
}
