/* The install form of a template page: built from the questions in template.json (next to
   the page), conditions (show_if, if, subquestions) applied live by conditions.js exactly as
   the server applies them, answers sent to the manifest API on this origin, and the API's
   messages shown at their fields. Helm charts also get a values document: the whole
   values.yaml to edit when the chart asks no questions, else a box for values no question
   asks for; its errors are shown by line. */
(function () {
  "use strict";

  var TEXTUAL = { multiline: "textarea", password: "password", int: "number", float: "number" };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  // An answer as Rancher compares it: text, booleans as "true"/"false".
  function answerText(value) {
    if (value === null || value === undefined) return "";
    return String(value);
  }

  var conditions = window.catalogConditions;

  function isScalar(value) {
    return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
  }

  function InstallForm(root, data) {
    this.root = root;
    this.data = data;
    this.fields = {};
    this.build();
  }

  InstallForm.prototype.build = function () {
    var self = this;
    var data = this.data;
    this.form = el("form", { class: "install-form", id: "install-form", novalidate: true });
    var versionSelect = el("select", { id: "install-version", name: "version" });
    data.versions.forEach(function (v) {
      var option = el("option", { value: v.version, text: v.version + (v.version === data.default_version ? " (default)" : "") });
      versionSelect.appendChild(option);
    });
    versionSelect.value = data.default_version || (data.versions[0] || {}).version || "";
    this.versionSelect = versionSelect;
    var row = el("div", { class: "form-row" }, [
      el("div", { class: "field" }, [el("label", { for: "install-version", text: "Version" }), versionSelect]),
      this.plainField("release", "Release name", data.release || "", "Names the compose project or Helm release."),
    ]);
    if (data.kind === "helm") {
      row.appendChild(this.plainField("namespace", "Namespace", data.namespace || "", "Kubernetes namespace to install into."));
    }
    this.form.appendChild(row);
    this.questionsBox = el("div", { class: "questions-box" });
    this.form.appendChild(this.questionsBox);
    this.renderButton = el("button", { type: "submit", class: "button button-primary", id: "render-button", text: "Render manifest" });
    this.tarButton = el("button", { type: "button", class: "button", id: "download-tar", text: "Download .tar.gz" });
    this.form.appendChild(el("div", { class: "form-actions" }, [this.renderButton, this.tarButton]));
    this.status = el("p", { class: "form-status", id: "form-status", role: "status", "aria-live": "polite" });
    this.form.appendChild(this.status);
    this.output = el("div", { class: "manifest", id: "manifest", "aria-live": "polite" });
    this.root.appendChild(this.form);
    this.root.appendChild(this.output);

    versionSelect.addEventListener("change", function () { self.buildQuestions(); });
    this.form.addEventListener("submit", function (event) { event.preventDefault(); self.submit("json"); });
    this.tarButton.addEventListener("click", function () { self.submit("tar"); });
    this.form.addEventListener("input", function () { self.refresh(); });
    this.form.addEventListener("change", function () { self.refresh(); });
    this.buildQuestions();
  };

  InstallForm.prototype.plainField = function (name, label, value, help) {
    var id = "install-" + name;
    var field = el("div", { class: "field" }, [
      el("label", { for: id, text: label }),
      el("input", { type: "text", id: id, name: name, value: value, "aria-describedby": id + "-help " + id + "-error" }),
      el("p", { class: "field-help", id: id + "-help", text: help }),
      el("p", { class: "field-error", id: id + "-error" }),
    ]);
    this.fields["@" + name] = { field: field, input: field.querySelector("input"), error: field.lastChild };
    return field;
  };

  InstallForm.prototype.version = function () {
    var wanted = this.versionSelect.value;
    return this.data.versions.filter(function (v) { return v.version === wanted; })[0] || { questions: [] };
  };

  InstallForm.prototype.buildQuestions = function () {
    var self = this;
    Object.keys(this.fields).forEach(function (key) { if (key.charAt(0) !== "@") delete self.fields[key]; });
    this.questionsBox.textContent = "";
    this.output.textContent = "";
    this.setStatus("");
    this.questions = this.version().questions || [];
    this.flat = conditions.flatten(this.questions, null, 0, []);
    var fieldsets = {};
    var containers = {};
    this.flat.forEach(function (item, index) {
      var q = item.spec;
      var node = self.questionField(q, index);
      if (item.parent) {
        var box = containers[item.parent.variable];
        if (!box) {
          box = el("div", { class: "subquestions" });
          containers[item.parent.variable] = box;
          var parentField = self.fields[item.parent.variable].field;
          parentField.parentNode.insertBefore(box, parentField.nextSibling);
        }
        box.appendChild(node);
        return;
      }
      var group = q.group ? String(q.group) : "General";
      if (!fieldsets[group]) {
        fieldsets[group] = el("fieldset", { class: "question-group" }, [el("legend", { text: group })]);
        self.questionsBox.appendChild(fieldsets[group]);
      }
      fieldsets[group].appendChild(node);
    });
    if (this.version().questions_source === "values.schema.json" && this.flat.length) {
      this.questionsBox.insertBefore(
        el("p", { class: "muted questions-source", text: "These fields come from the chart's values.schema.json: it has no questions file." }),
        this.questionsBox.firstChild);
    }
    if (!this.flat.length && this.data.kind !== "helm") {
      this.questionsBox.appendChild(el("p", { class: "muted", text: "This version asks no questions." }));
    }
    this.valuesInput = null;
    if (this.data.kind === "helm") this.questionsBox.appendChild(this.valuesEditor(this.version()));
    this.refresh();
  };

  // The values document: values.yaml itself when the chart asks no questions (always sent),
  // else an optional box for values no question asks for (sent when it holds something).
  InstallForm.prototype.valuesEditor = function (version) {
    var self = this;
    var whole = !this.flat.length;
    var id = "install-values";
    var input = el("textarea", {
      id: id, name: "values", rows: whole ? 18 : 6, spellcheck: "false", class: "values-input",
      "aria-describedby": id + "-help " + id + "-error",
    });
    var help = el("p", {
      class: "field-help", id: id + "-help",
      text: whole
        ? "This chart asks no questions: edit its values.yaml. The server checks the YAML, then the chart's schema if it has one, and shows each error at its line."
        : "YAML merged over the chart's values.yaml (null removes a key). Applied as written: only the chart's schema checks them. Values of the questions above are checked as answers.",
    });
    var error = el("ul", { class: "field-error values-errors", id: id + "-error" });
    var label = el("label", { for: id, text: whole ? "values.yaml" : "Values (YAML)" });
    var field = el("div", { class: "field values-field" }, [label, input, help, error]);
    var box;
    if (whole) {
      box = el("fieldset", { class: "question-group values-group" }, [el("legend", { text: "Values" }), field]);
    } else {
      box = el("details", { class: "values-group" }, [
        el("summary", { text: "Other values: set what no question asks for" }), field,
      ]);
    }
    this.valuesInput = input;
    this.valuesWhole = whole;
    this.fields["@values"] = { field: box, input: input, error: error };
    if (whole && version.values) {
      input.disabled = true;
      fetch(version.values)
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then(function (doc) {
          if (self.valuesInput !== input) return; // another version was picked meanwhile
          input.value = doc.text;
          if (!doc.file) help.textContent = "This chart has no values.yaml: write values here, or render it as it is.";
        })
        .catch(function () { help.textContent = "The chart's values.yaml could not be loaded; write values here."; })
        .then(function () { input.disabled = false; });
    }
    return box;
  };

  InstallForm.prototype.questionField = function (q, index) {
    var id = "q-" + index;
    var type = String(q.type || "string");
    var label = q.label ? String(q.label) : q.variable;
    var required = q.required === true || q.required === "true";
    var def = q["default"];
    var helpText = [q.description ? String(q.description) : "", q.pattern ? "Must match " + String(q.pattern) : ""]
      .filter(Boolean).join(" ");
    var described = (helpText ? id + "-help " : "") + id + "-error";
    var input;
    if (type === "boolean") {
      input = el("input", { type: "checkbox", id: id, name: q.variable, "aria-describedby": described });
      input.checked = answerText(def).toLowerCase() === "true";
    } else if (type === "enum" || (Array.isArray(q.options) && q.options.length && TEXTUAL[type] === "number")) {
      input = el("select", { id: id, name: q.variable, "aria-describedby": described, "aria-required": required ? "true" : null });
      if (!required || def === undefined || def === null || def === "") input.appendChild(el("option", { value: "", text: "(none)" }));
      // A list of options, or a mapping of value to label. An option that is a list or a
      // mapping itself (`[ReadWriteOnce]`) is sent as it is, so it is kept by its position.
      var options = Array.isArray(q.options) ? q.options.map(function (o) { return [o, answerText(o)]; })
        : q.options && typeof q.options === "object" ? Object.keys(q.options).map(function (k) { return [k, answerText(q.options[k])]; })
        : [];
      input.optionValues = {};
      options.forEach(function (pair, i) {
        var value = isScalar(pair[0]) ? answerText(pair[0]) : "#option-" + i;
        if (!isScalar(pair[0])) input.optionValues[value] = pair[0];
        input.appendChild(el("option", { value: value, text: pair[1] }));
        if (JSON.stringify(pair[0]) === JSON.stringify(def)) input.value = value;
      });
      if (isScalar(def) || def === undefined || def === null) input.value = answerText(def);
    } else if (TEXTUAL[type] === "textarea") {
      input = el("textarea", { id: id, name: q.variable, rows: 4, "aria-describedby": described, "aria-required": required ? "true" : null });
      input.value = answerText(def);
    } else {
      var inputType = TEXTUAL[type] || "text";
      input = el("input", {
        type: inputType, id: id, name: q.variable, "aria-describedby": described,
        "aria-required": required ? "true" : null,
        autocomplete: inputType === "password" ? "new-password" : "off",
        min: inputType === "number" && typeof q.min === "number" ? q.min : null,
        max: inputType === "number" && typeof q.max === "number" ? q.max : null,
        step: inputType === "number" ? (type === "int" ? 1 : "any") : null,
        minlength: typeof q.min_length === "number" ? q.min_length : null,
        maxlength: typeof q.max_length === "number" ? q.max_length : null,
      });
      input.value = answerText(def);
    }
    var labelNode = el("label", { for: id, text: label });
    if (required) labelNode.appendChild(el("span", { class: "required-mark", "aria-hidden": "true", text: " *" }));
    var children = type === "boolean"
      ? [el("div", { class: "field-check" }, [input, labelNode])]
      : [labelNode, input];
    if (helpText) children.push(el("p", { class: "field-help", id: id + "-help", text: helpText }));
    var error = el("p", { class: "field-error", id: id + "-error" });
    children.push(error);
    var field = el("div", { class: "field", "data-variable": q.variable }, children);
    this.fields[q.variable] = { field: field, input: input, error: error, spec: q };
    return field;
  };

  InstallForm.prototype.value = function (variable) {
    var input = this.fields[variable].input;
    if (input.type === "checkbox") return input.checked;
    if (input.optionValues && Object.prototype.hasOwnProperty.call(input.optionValues, input.value)) {
      return input.optionValues[input.value];
    }
    return input.value;
  };

  // Visibility, decided on every question's current answer by the rules the server uses
  // (conditions.js is the twin of the server's conditions module).
  InstallForm.prototype.refresh = function () {
    var self = this;
    var visible = conditions.visibility(this.questions, this.answers());
    this.flat.forEach(function (item) {
      self.fields[item.spec.variable].field.hidden = !visible[item.spec.variable];
    });
    this.visible = visible;
    this.questionsBox.querySelectorAll("fieldset").forEach(function (fs) {
      fs.hidden = !fs.querySelector(".field:not([hidden])");
    });
  };

  // Every field's answer, hidden ones too: the server decides visibility on the same
  // answers as the form, and drops the answers of hidden questions itself.
  InstallForm.prototype.answers = function () {
    var self = this;
    var answers = {};
    this.flat.forEach(function (item) {
      answers[item.spec.variable] = self.value(item.spec.variable);
    });
    return answers;
  };

  InstallForm.prototype.setStatus = function (text, isError) {
    this.status.textContent = text;
    this.status.className = "form-status" + (isError ? " error" : "");
  };

  InstallForm.prototype.clearErrors = function () {
    var fields = this.fields;
    Object.keys(fields).forEach(function (key) {
      fields[key].error.textContent = "";
      fields[key].input.removeAttribute("aria-invalid");
    });
  };

  // Select line `line` of the values document, so its error is where the cursor is.
  InstallForm.prototype.showLine = function (line) {
    var input = this.valuesInput;
    var lines = input.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[line - 1] || "").length;
    var box = input.closest("details");
    if (box) box.open = true;
    input.focus();
    input.setSelectionRange(start, end);
    var height = input.scrollHeight / Math.max(lines.length, 1);
    input.scrollTop = Math.max(0, (line - 3) * height);
  };

  // The values document's errors, each at its line (a button that selects it).
  InstallForm.prototype.showValuesErrors = function (errors) {
    var self = this;
    var target = this.fields["@values"];
    if (!target) return false;
    target.error.textContent = "";
    errors.forEach(function (e) {
      var where = e.line ? "Line " + e.line + (e.path ? " (" + e.path + ")" : "") : (e.path || "The document");
      var item = el("li", { class: "values-error", "data-line": e.line || null });
      if (e.line) {
        var jump = el("button", { type: "button", class: "link-button", text: where });
        jump.addEventListener("click", function () { self.showLine(e.line); });
        item.appendChild(jump);
      } else {
        item.appendChild(el("span", { text: where }));
      }
      item.appendChild(document.createTextNode(": " + String(e.message)));
      target.error.appendChild(item);
    });
    target.input.setAttribute("aria-invalid", "true");
    var box = target.input.closest("details");
    if (box) box.open = true;
    var first = errors.filter(function (e) { return e.line; })[0];
    if (first) this.showLine(first.line);
    else target.input.focus();
    return true;
  };

  InstallForm.prototype.showErrors = function (error) {
    var fields = this.fields;
    var details = error.details || {};
    var first = null;
    var elsewhere = [];
    var byField = {};
    var valuesShown = false;
    if (error.code === "invalid_answers") {
      byField = details;
    } else if (error.code === "invalid_values") {
      byField = details.answers || {};
      valuesShown = this.showValuesErrors(details.errors || []);
    } else if (error.code === "bad_parameter" && details.parameter && fields["@" + details.parameter]) {
      byField["@" + details.parameter] = [error.message];
    }
    Object.keys(byField).forEach(function (variable) {
      var messages = [].concat(byField[variable]).map(String);
      var target = fields[variable];
      if (!target || target.field.hidden) {
        elsewhere.push(variable + ": " + messages.join("; "));
        return;
      }
      target.error.textContent = messages.join("; ");
      target.input.setAttribute("aria-invalid", "true");
      first = first || target.input;
    });
    var summary = error.message || "The manifest could not be rendered.";
    this.setStatus(summary + (elsewhere.length ? " " + elsewhere.join(" ") : ""), true);
    if (first && !valuesShown) first.focus();
  };

  InstallForm.prototype.submit = function (format) {
    var self = this;
    var version = this.versionSelect.value;
    var body = { answers: this.answers(), format: format };
    if (this.valuesInput && (this.valuesWhole || this.valuesInput.value.trim())) {
      body.values = this.valuesInput.value;
    }
    var release = this.fields["@release"].input.value.trim();
    if (release) body.release = release;
    if (this.fields["@namespace"]) {
      var namespace = this.fields["@namespace"].input.value.trim();
      if (namespace) body.namespace = namespace;
    }
    this.clearErrors();
    this.setStatus("Rendering…");
    this.renderButton.disabled = true;
    var url = this.data.api + "/versions/" + encodeURIComponent(version) + "/manifest";
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: format === "tar" ? "application/gzip" : "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (payload) {
          self.showErrors((payload && payload.error) || { message: "The server answered " + response.status + "." });
        });
      }
      if (format === "tar") {
        return response.blob().then(function (blob) {
          download(blob, self.data.id.split("*").pop() + "-" + version + ".tar.gz");
          self.setStatus("Downloaded the manifest archive.");
        });
      }
      return response.json().then(function (manifest) {
        self.showManifest(manifest, version);
        self.setStatus("Rendered " + manifest.files.length + " file" + (manifest.files.length === 1 ? "" : "s") + " for version " + version + ".");
      });
    }).catch(function () {
      self.setStatus("The server could not be reached. The install form needs this site's own server (its API).", true);
    }).then(function () {
      self.renderButton.disabled = false;
    });
  };

  function download(blob, name) {
    var link = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  InstallForm.prototype.showManifest = function (manifest, version) {
    var out = this.output;
    out.textContent = "";
    out.appendChild(el("h3", { text: "Manifest for version " + version }));
    if (manifest.warnings && manifest.warnings.length) {
      var list = el("ul", { class: "manifest-warnings" });
      manifest.warnings.forEach(function (w) { list.appendChild(el("li", { text: w })); });
      out.appendChild(list);
    }
    manifest.files.forEach(function (file, index) {
      var codeId = "manifest-file-" + index;
      var copy = el("button", { type: "button", class: "button", text: "Copy", "aria-label": "Copy " + file.path });
      var save = el("button", { type: "button", class: "button", text: "Download", "aria-label": "Download " + file.path });
      var code = el("code", { id: codeId, text: file.content });
      copy.addEventListener("click", function () { window.catalogSite.copyText(file.content, copy); });
      save.addEventListener("click", function () {
        download(new Blob([file.content], { type: "text/plain" }), file.path.split("/").pop());
      });
      out.appendChild(el("article", { class: "manifest-file", "data-path": file.path }, [
        el("header", {}, [el("h3", { text: file.path }), copy, save]),
        el("pre", {}, [code]),
      ]));
    });
    if (manifest.commands && manifest.commands.length) {
      var commands = manifest.commands.join("\n");
      var copyCommands = el("button", { type: "button", class: "button", text: "Copy commands" });
      copyCommands.addEventListener("click", function () { window.catalogSite.copyText(commands, copyCommands); });
      out.appendChild(el("article", { class: "manifest-file manifest-commands" }, [
        el("header", {}, [el("h3", { text: "Commands" }), copyCommands]),
        el("pre", {}, [el("code", { text: commands })]),
      ]));
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("install-app");
    if (!root) return;
    fetch(root.getAttribute("data-template"))
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) { root.installForm = new InstallForm(root, data); })
      .catch(function () {
        root.appendChild(el("p", { class: "notice", text: "The install form could not load its questions (template.json)." }));
      });
  });
})();
