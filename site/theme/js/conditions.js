/* When a question is shown: `if`, `show_if` and the subquestion conditions, as Rancher's
   dashboard evaluates them. The twin of catalog_server/manifests/conditions.py (and of the
   visibility part of catalog_server/manifests/answers.py): the tests run both over one
   table of cases, so the install form and the server always agree. The module docstring
   there states the rules; this file follows it line for line. Works in the browser
   (window.catalogConditions) and in node (module.exports). */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.catalogConditions = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var MAX_EXPRESSION = 2000;
  var MAX_DEPTH = 32;
  var MAX_SUBQUESTION_DEPTH = 8;
  var TOKEN = /\s*(?:(\d+(?:\.\d+)?)|("(?:[^"\\]|\\[\s\S])*"|'(?:[^'\\]|\\[\s\S])*')|(==|!=|<=|>=|&&|\|\||[!<>()])|([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*))/y;
  var TERM_NAME = /^[A-Za-z_$][\w$.\-]*$/;
  var LEVELS = [["||"], ["&&"], ["==", "!="], ["<", "<=", ">", ">="]];
  var ALWAYS = { tree: ["lit", true], names: [] };

  function ConditionError(message) { this.message = message; }

  function tokens(text) {
    var out = [];
    var pos = 0;
    while (pos < text.length) {
      if (!text.slice(pos).trim()) break;
      TOKEN.lastIndex = pos;
      var m = TOKEN.exec(text);
      if (!m || TOKEN.lastIndex === pos) throw new ConditionError("cannot read " + text.slice(pos).trim().slice(0, 20));
      if (m[1] !== undefined) out.push(["num", m[1]]);
      else if (m[2] !== undefined) out.push(["str", m[2]]);
      else if (m[3] !== undefined) out.push(["op", m[3]]);
      else out.push(["name", m[4]]);
      pos = TOKEN.lastIndex;
    }
    return out;
  }

  function parseExpression(text) {
    if (typeof text !== "string") throw new ConditionError("an expression must be text");
    if (text.length > MAX_EXPRESSION) throw new ConditionError("too long");
    var toks = tokens(text);
    var pos = 0;
    var names = [];
    if (!toks.length) throw new ConditionError("the expression is empty");

    function peek() { return pos < toks.length ? toks[pos] : null; }

    function binary(level, depth) {
      if (level === LEVELS.length) return unary(depth);
      var left = binary(level + 1, depth);
      var token = peek();
      while (token && token[0] === "op" && LEVELS[level].indexOf(token[1]) >= 0) {
        pos += 1;
        left = [token[1], left, binary(level + 1, depth)];
        token = peek();
      }
      return left;
    }

    function unary(depth) {
      if (depth > MAX_DEPTH) throw new ConditionError("nested too deeply");
      var token = peek();
      if (!token) throw new ConditionError("ends where a value is expected");
      pos += 1;
      var kind = token[0];
      var value = token[1];
      if (kind === "op" && value === "!") return ["not", unary(depth + 1)];
      if (kind === "op" && value === "(") {
        var inner = binary(0, depth + 1);
        var close = peek();
        if (!close || close[0] !== "op" || close[1] !== ")") throw new ConditionError("a '(' is not closed");
        pos += 1;
        return inner;
      }
      if (kind === "num") return ["lit", Number(value)];
      if (kind === "str") return ["lit", value.slice(1, -1).replace(/\\([\s\S])/g, "$1")];
      if (kind === "name") {
        if (value === "true" || value === "false") return ["lit", value === "true"];
        if (value === "null" || value === "undefined") return ["lit", null];
        if (names.indexOf(value) < 0) names.push(value);
        return ["name", value];
      }
      throw new ConditionError("unexpected " + value);
    }

    var tree = binary(0, 0);
    if (pos < toks.length) throw new ConditionError("unexpected " + toks[pos][1]);
    return { tree: tree, names: names };
  }

  function namesOf(node, out) {
    if (node[0] === "name") { if (out.indexOf(node[1]) < 0) out.push(node[1]); }
    else if (node[0] !== "lit") for (var i = 1; i < node.length; i++) namesOf(node[i], out);
    return out;
  }

  // One show_if term, rewritten as the dashboard does; null when it cannot be read.
  function term(text) {
    text = text.trim();
    if (!text) return null;
    if (text.indexOf("=") < 0) {
      try { return parseExpression(text).tree; } catch (e) { return null; }
    }
    var negate = text.indexOf("!=") >= 0;
    var op = negate ? "!=" : "=";
    var at = text.indexOf(op);
    var key = text.slice(0, at).trim();
    var value = text.slice(at + op.length).trim();
    if (/[()]/.test(key) || value.indexOf("=") >= 0 || !TERM_NAME.test(key) || value.indexOf('"') >= 0) return null;
    if (value === "true" || value === "false" || value === "null") {
      return [negate ? "!=" : "==", ["name", key], ["lit", value === "null" ? null : value === "true"]];
    }
    if (value === "") return negate ? ["not", ["not", ["name", key]]] : ["not", ["name", key]];
    return [negate ? "!=" : "==", ["name", key], ["lit", value]];
  }

  function showIfCondition(expr) {
    if (typeof expr !== "string" || !expr.trim() || expr.length > MAX_EXPRESSION) return ALWAYS;
    var tree = null;
    expr.split("||").forEach(function (alternative) {
      var node = null;
      alternative.split("&&").forEach(function (t) {
        var part = term(t) || ["lit", true];
        node = node ? ["&&", node, part] : part;
      });
      tree = tree ? ["||", tree, node] : node;
    });
    return { tree: tree, names: namesOf(tree, []) };
  }

  function expression(value) {
    try { return parseExpression(value); } catch (e) { return ALWAYS; }
  }

  function falsyKey(value) {
    return value === null || value === undefined || value === "" || value === false || value === 0;
  }

  function questionCondition(spec) {
    if (Object.prototype.hasOwnProperty.call(spec, "if")) {
      return falsyKey(spec["if"]) ? null : expression(spec["if"]);
    }
    if (spec.show_if === null || spec.show_if === undefined) return null;
    return showIfCondition(spec.show_if);
  }

  function jsString(value) {
    if (Array.isArray(value)) return value.map(function (v) { return v === null || v === undefined ? "" : jsString(v); }).join(",");
    return String(value);
  }

  function subquestionCondition(spec) {
    var key = Object.prototype.hasOwnProperty.call(spec, "subquestions_if") ? "subquestions_if" : "subquestion_if";
    if (spec[key]) return expression(spec[key]);
    var oldKey = Object.prototype.hasOwnProperty.call(spec, "show_subquestions_if") ? "show_subquestions_if"
      : Object.prototype.hasOwnProperty.call(spec, "show_subquestion_if") ? "show_subquestion_if" : null;
    if (oldKey === null) return null;
    var old = spec[oldKey];
    var name = ["name", String(spec.variable || "")];
    if (old === false || old === "false") return { tree: ["not", name], names: [name[1]] };
    if (old === true || old === "true") return { tree: ["not", ["not", name]], names: [name[1]] };
    return { tree: ["==", name, ["lit", jsString(old)]], names: [name[1]] };
  }

  function lookup(answers, name) {
    if (Object.prototype.hasOwnProperty.call(answers, name)) {
      var value = answers[name];
      return value === null ? undefined : value;
    }
    var parts = name.split(".");
    for (var cut = parts.length - 1; cut > 0; cut--) {
      var node = answers[parts.slice(0, cut).join(".")];
      for (var i = cut; i < parts.length; i++) {
        node = node !== null && typeof node === "object" && !Array.isArray(node) ? node[parts[i]] : undefined;
      }
      if (node !== null && node !== undefined) return node;
    }
    return undefined;
  }

  function evaluate(node, answers) {
    var op = node[0];
    if (op === "lit") return node[1];
    if (op === "name") return lookup(answers, node[1]);
    if (op === "not") return !evaluate(node[1], answers);
    var left = evaluate(node[1], answers);
    if (op === "&&") return left ? evaluate(node[2], answers) : left;
    if (op === "||") return left ? left : evaluate(node[2], answers);
    var right = evaluate(node[2], answers);
    /* eslint-disable eqeqeq */
    if (op === "==") return left == right;
    if (op === "!=") return left != right;
    if (op === "<") return left < right;
    if (op === "<=") return left <= right;
    if (op === ">") return left > right;
    return left >= right;
  }

  function holds(condition, answers) {
    return condition === null || !!evaluate(condition.tree, answers);
  }

  // --- answers, as catalog_server/manifests/answers.py reads them for visibility -----------

  var INT = /^[+-]?\d+$/;
  var FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

  function answerText(value) {
    if (value === null || value === undefined) return "";
    return String(value);
  }

  function missing(value) { return value === null || value === undefined || value === ""; }

  function isScalar(value) {
    return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
  }

  // [value, ok]: the answer coerced to its question's type, as answers._coerce does.
  function coerce(type, value, spec) {
    if (type === "int") {
      if (typeof value === "boolean") return [value, false];
      if (typeof value === "number") return Number.isInteger(value) ? [value, true] : [value, false];
      if (typeof value === "string" && INT.test(value.trim())) return [parseInt(value.trim(), 10), true];
      return [value, false];
    }
    if (type === "float") {
      var number = NaN;
      if (typeof value === "number") number = value;
      else if (typeof value === "string" && FLOAT.test(value.trim())) number = parseFloat(value.trim());
      return isFinite(number) ? [number, true] : [value, false];
    }
    if (type === "boolean") {
      if (typeof value === "boolean") return [value, true];
      var text = isScalar(value) ? answerText(value).trim().toLowerCase() : "";
      if (text === "true" || text === "1") return [true, true];
      if (text === "false" || text === "0") return [false, true];
      return [value, false];
    }
    if (isScalar(value)) return [answerText(value), true];
    if (type === "enum" && enumHasStructure(spec)) return [value, true];
    return [value, false];
  }

  // An enum whose options are lists or mappings (`[ReadWriteOnce]`) takes one as its answer.
  function enumHasStructure(spec) {
    var options = spec && spec.options;
    if (options && typeof options === "object" && !Array.isArray(options)) options = Object.keys(options);
    return Array.isArray(options) && options.some(function (o) { return o !== null && typeof o === "object"; });
  }

  function flatten(questions, parent, depth, out) {
    if (depth > MAX_SUBQUESTION_DEPTH) return out;
    (Array.isArray(questions) ? questions : []).forEach(function (q) {
      if (!q || typeof q !== "object" || typeof q.variable !== "string") return;
      out.push({ spec: q, parent: parent });
      if (Array.isArray(q.subquestions)) flatten(q.subquestions, q, depth + 1, out);
    });
    return out;
  }

  // Only int, float, boolean and enum read answers their own way; every other type is text.
  function questionType(spec) {
    return typeof spec.type === "string" ? spec.type : "string";
  }

  // {variable: shown} for every question, decided on every question's current answer.
  function visibility(questions, answers) {
    var flat = flatten(questions, null, 0, []);
    var current = {};
    Object.keys(answers || {}).forEach(function (k) { current[k] = answers[k]; });
    flat.forEach(function (item) {
      var q = item.spec;
      var given = Object.prototype.hasOwnProperty.call(answers || {}, q.variable) ? answers[q.variable] : undefined;
      var raw = missing(given) ? q["default"] : given;
      if (missing(raw)) {
        if (!Object.prototype.hasOwnProperty.call(current, q.variable)) current[q.variable] = null;
        return;
      }
      var coerced = coerce(questionType(q), raw, q);
      current[q.variable] = coerced[1] ? coerced[0] : raw;
    });
    var visible = {};
    flat.forEach(function (item) {
      var q = item.spec;
      var shown = true;
      if (item.parent) {
        shown = visible[item.parent.variable] !== false && holds(subquestionCondition(item.parent), current);
      }
      visible[q.variable] = shown && holds(questionCondition(q), current);
    });
    return visible;
  }

  return {
    parseExpression: parseExpression,
    showIfCondition: showIfCondition,
    questionCondition: questionCondition,
    subquestionCondition: subquestionCondition,
    holds: holds,
    coerce: coerce,
    flatten: flatten,
    visibility: visibility,
  };
});
