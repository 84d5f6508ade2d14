// mcsim personalization runtime, evaluated once in every sandbox context.
//
// Evaluating this file yields a setup function. Called once, it trims the global object to the
// standard ECMAScript built-ins plus the template helpers, freezes every object a template can
// reach (see "Lockdown" below), and returns the frozen object compiled templates receive as
// `__mc` (and what only the host may call). Every function here is named `__mc_*`: the Python
// side skips those frames when it looks for the template line of an error.
//
// XML data arrives as JSON nodes: [name, text, {"@attribute": value}, [child nodes]], the last
// two left out when empty; the event's node adds {field: value} (its attributes, unprefixed).
(function __mc_setup() {
  "use strict";

  var G = globalThis;
  var O = Object;
  var hasOwn = O.hasOwn;
  var apply = Reflect.apply;
  var ownNames = O.getOwnPropertyNames;
  var ownKeys = Reflect.ownKeys;
  var deleteProperty = Reflect.deleteProperty;
  var getDescriptor = O.getOwnPropertyDescriptor;
  var defineProperty = O.defineProperty;
  var getPrototypeOf = O.getPrototypeOf;
  var isExtensible = O.isExtensible;
  var freeze = O.freeze;
  var parseJSON = JSON.parse;
  var ProxyCtor = Proxy;
  var stringProto = String.prototype;
  // Views and helper functions are recognised by identity, never by reading a property: a
  // property read on a template's Proxy would hand its trap the key (security review F6: with
  // a symbol key, the template got hold of the shared EMPTY view's internals).
  var VIEWS = new WeakMap();
  var HELPERS = new WeakSet();
  var NO_VALUES = O.freeze([]);
  var NO_ATTRIBUTES = O.freeze({});

  // ---- XML views (E4X-like) -------------------------------------------------------------

  function __mc_readOnly() {
    throw new TypeError("event data is read-only in templates");
  }

  function __mc_children(nodes, name) {
    var found = [];
    for (var i = 0; i < nodes.length; i++) {
      var kids = nodes[i][3];
      if (kids === undefined) continue;
      for (var j = 0; j < kids.length; j++) {
        if (name === undefined || kids[j][0] === name) found.push(kids[j]);
      }
    }
    return found;
  }

  // The value of attribute `key` ("@name") over a list: concatenated, "" when missing.
  function __mc_attribute(nodes, key) {
    var value = "";
    for (var i = 0; i < nodes.length; i++) {
      var attributes = nodes[i][2];
      if (attributes !== undefined && hasOwn(attributes, key)) value += attributes[key];
    }
    return value;
  }

  function __mc_escape(text, quote) {
    var out = String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return quote ? out.replace(/"/g, "&quot;") : out;
  }

  function __mc_markup(node) {
    var out = "<" + node[0];
    var attributes = node[2] || NO_ATTRIBUTES;
    for (var name in attributes) {
      if (hasOwn(attributes, name)) {
        out += " " + name.slice(1) + '="' + __mc_escape(attributes[name], true) + '"';
      }
    }
    var kids = node[3] || NO_VALUES;
    if (node[1] === "" && kids.length === 0) return out + "/>";
    out += ">" + __mc_escape(node[1], false);
    for (var i = 0; i < kids.length; i++) out += __mc_markup(kids[i]);
    return out + "</" + node[0] + ">";
  }

  // E4X's toString: the text of one simple element, the markup of anything else.
  function __mc_string(nodes) {
    if (nodes.length === 1) {
      var node = nodes[0];
      return node[3] === undefined ? node[1] : __mc_markup(node);
    }
    if (nodes.length === 0) return "";
    var parts = [];
    for (var i = 0; i < nodes.length; i++) parts.push(__mc_markup(nodes[i]));
    return parts.join("\n");
  }

  function __mc_nodes(view) {
    return VIEWS.get(view).n;
  }

  // E4X methods of XML and XMLList, called on a view (`this` is the view's proxy).
  var METHODS = O.create(null);
  METHODS.length = function __mc_length() {
    return __mc_nodes(this).length;
  };
  METHODS.toString = function __mc_toString() {
    return __mc_string(__mc_nodes(this));
  };
  METHODS.valueOf = METHODS.toString;
  METHODS.toJSON = METHODS.toString;
  METHODS.toXMLString = function __mc_toXMLString() {
    var nodes = __mc_nodes(this);
    var parts = [];
    for (var i = 0; i < nodes.length; i++) parts.push(__mc_markup(nodes[i]));
    return parts.join("\n");
  };
  METHODS.text = function __mc_text() {
    var nodes = __mc_nodes(this);
    var text = "";
    for (var i = 0; i < nodes.length; i++) text += nodes[i][1];
    return text;
  };
  METHODS.children = function __mc_childrenOf() {
    return __mc_view(__mc_children(__mc_nodes(this), undefined), false);
  };
  METHODS.elements = function __mc_elements(name) {
    var wanted = name === undefined || name === "*" ? undefined : String(name);
    return __mc_view(__mc_children(__mc_nodes(this), wanted), false);
  };
  METHODS.child = function __mc_child(name) {
    var nodes = __mc_nodes(this);
    var kids = typeof name === "number" ? __mc_children(nodes).slice(name, name + 1)
      : __mc_children(nodes, String(name));
    return __mc_view(kids, false);
  };
  METHODS.attribute = function __mc_attributeOf(name) {
    return __mc_attribute(__mc_nodes(this), "@" + String(name));
  };
  METHODS.name = function __mc_name() {
    var nodes = __mc_nodes(this);
    return nodes.length ? nodes[0][0] : "";
  };
  METHODS.localName = METHODS.name;
  METHODS.hasSimpleContent = function __mc_hasSimpleContent() {
    var nodes = __mc_nodes(this);
    return nodes.length === 0 || (nodes.length === 1 && nodes[0][3] === undefined);
  };
  METHODS.hasComplexContent = function __mc_hasComplexContent() {
    var nodes = __mc_nodes(this);
    return nodes.length === 1 && nodes[0][3] !== undefined;
  };

  // String methods on simple content, as E4X allows: rtEvent.ctx.firstName.toUpperCase().
  var STRING_METHODS = O.create(null);
  var HTML_METHODS = " anchor big blink bold fixed fontcolor fontsize italics link small strike" +
    " sub sup ";
  ownNames(stringProto).forEach(function __mc_wrapStringMethod(name) {
    var method = stringProto[name];
    if (typeof method !== "function" || name === "constructor") return;
    if (METHODS[name] !== undefined || HTML_METHODS.indexOf(" " + name + " ") >= 0) return;
    STRING_METHODS[name] = function __mc_stringMethod() {
      return apply(method, __mc_string(__mc_nodes(this)), arguments);
    };
  });
  for (var methodName in METHODS) HELPERS.add(METHODS[methodName]);
  for (var stringName in STRING_METHODS) HELPERS.add(STRING_METHODS[stringName]);

  function __mc_isIndex(key) {
    var code = key.charCodeAt(0);
    return code >= 48 && code <= 57 && String(key >>> 0) === key;
  }

  // What view.key is, once the fast cases (attributes, indexes, event fields) are ruled out:
  // E4X methods called through the view, child elements, String methods on simple content.
  function __mc_lookup(nodes, key) {
    var method = METHODS[key];
    if (method !== undefined && (key === "toString" || key === "valueOf" || key === "toJSON")) {
      return method;
    }
    var kids = __mc_children(nodes, key);
    if (kids.length) return __mc_view(kids, false);
    if (method !== undefined) return method;
    var stringMethod = STRING_METHODS[key];
    return stringMethod !== undefined ? stringMethod : EMPTY;
  }

  function __mc_toPrimitive() {
    return __mc_string(__mc_nodes(this));
  }

  function __mc_iterator() {
    return __mc_each(this)[Symbol.iterator]();
  }

  var HANDLER = {
    get: function __mc_get(target, key) {
      if (typeof key !== "string") {
        if (key === Symbol.toPrimitive) return __mc_toPrimitive;
        if (key === Symbol.iterator) return __mc_iterator;
        return undefined;
      }
      var nodes = target.n;
      var first = key.charCodeAt(0);
      if (first === 64) {
        if (nodes.length !== 1) return __mc_attribute(nodes, key);
        var attributes = nodes[0][2];
        return attributes !== undefined && hasOwn(attributes, key) ? attributes[key] : "";
      }
      if (first >= 48 && first <= 57 && __mc_isIndex(key)) {
        var node = nodes[+key];
        return node === undefined ? EMPTY : __mc_view([node], target.r);
      }
      // The event itself: its attributes read as Campaign fields (rtEvent.email).
      if (target.r && hasOwn(nodes[0][4], key)) return nodes[0][4][key];
      if (nodes.length === 0) return __mc_lookup(nodes, key);
      var cache = target.c;
      if (cache === undefined) {
        cache = target.c = O.create(null);
      } else if (hasOwn(cache, key)) {
        return cache[key];
      }
      var found = __mc_lookup(nodes, key);
      cache[key] = found;
      return found;
    },
    has: function __mc_has(target, key) {
      if (typeof key !== "string") return key === Symbol.iterator;
      var nodes = target.n;
      if (key.charCodeAt(0) === 64) {
        for (var i = 0; i < nodes.length; i++) {
          if (nodes[i][2] !== undefined && hasOwn(nodes[i][2], key)) return true;
        }
        return false;
      }
      if (__mc_isIndex(key)) return +key < nodes.length;
      if (target.r && hasOwn(nodes[0][4], key)) return true;
      return __mc_children(nodes, key).length > 0;
    },
    ownKeys: function __mc_ownKeys(target) {
      var keys = [];
      for (var i = 0; i < target.n.length; i++) keys.push(String(i));
      return keys;
    },
    getOwnPropertyDescriptor: function __mc_descriptor(target, key) {
      if (typeof key !== "string" || !__mc_isIndex(key) || +key >= target.n.length) {
        return undefined;
      }
      return {
        value: __mc_view([target.n[+key]], target.r),
        writable: false,
        enumerable: true,
        configurable: true,
      };
    },
    set: __mc_readOnly,
    defineProperty: __mc_readOnly,
    deleteProperty: __mc_readOnly,
    setPrototypeOf: __mc_readOnly,
    preventExtensions: __mc_readOnly,
  };

  // A view of a list of nodes; `c` caches what its keys resolved to (nodes never change).
  function __mc_view(nodes, root) {
    var target = { n: nodes, r: root, c: undefined };
    var view = new ProxyCtor(target, HANDLER);
    VIEWS.set(view, target);
    return view;
  }

  var EMPTY = __mc_view(NO_VALUES, false);

  // ---- What compiled templates call ---------------------------------------------------------

  var templateThrew = false;
  // Time zones formatDate has been given: name -> {t: [UTC ms], o: [offset minutes]}, or null
  // for a zone that does not exist. The host loads them (no host call is possible during a
  // render): a render that meets an unknown name returns the names instead of its text, and
  // the host renders again once they are loaded.
  var zones = O.create(null);
  var missingZones = [];

  // The last event's view: the fields of one message (subject, html, text) share one event,
  // whose data is parsed once. Views are read-only, so reusing one leaks nothing.
  var lastPayload = "";
  var lastEvent = EMPTY;

  function __mc_event(payload) {
    templateThrew = false;
    missingZones.length = 0;
    if (payload !== lastPayload) {
      lastEvent = __mc_view([parseJSON(payload)], true);
      lastPayload = payload;
    }
    return lastEvent;
  }

  // The render's result: its text, or the time zones to load before rendering it again.
  // The text is flattened (slice) because the host binding cannot read QuickJS string ropes,
  // which long concatenations produce.
  function __mc_finish(output) {
    if (missingZones.length) return missingZones.slice();
    var text = __mc_str(output).slice(0);
    // The host binding reads the text as a C string: everything after a NUL would be lost.
    if (text.indexOf("\u0000") >= 0) {
      throw new TypeError("the template wrote a NUL character (U+0000), which no message can carry");
    }
    return text;
  }

  function __mc_addZone(name, table) {
    zones[name] = table === null ? null : parseJSON(table);
  }

  function __mc_zoneOffset(name, millis) {
    if (!hasOwn(zones, name)) {
      if (missingZones.indexOf(name) < 0) missingZones.push(name);
      return 0;
    }
    var zone = zones[name];
    if (zone === null) throw new RangeError("formatDate: unknown time zone '" + name + "'");
    var times = zone.t;
    var low = 0;
    var high = times.length - 1;
    while (low < high) {
      var middle = (low + high + 1) >> 1;
      if (times[middle] <= millis) low = middle;
      else high = middle - 1;
    }
    return zone.o[low];
  }

  // Every `throw` of a template calls this first (see e4x.py).
  function __mc_mark() {
    templateThrew = true;
  }

  // What leaves a render: errors as they are; a value the template threw becomes an Error
  // named "Thrown". A bare null the template did not throw is QuickJS out of memory: kept.
  function __mc_rethrow(error) {
    if (error instanceof Error || !templateThrew) return error;
    var thrown = new Error(error === null || error === undefined ? String(error) : __mc_str(error));
    thrown.name = "Thrown";
    return thrown;
  }

  // `for each (x in value)`: the values, not the keys.
  function __mc_each(value) {
    if (value === null || value === undefined) return NO_VALUES;
    if (typeof value === "object") {
      var target = VIEWS.get(value);
      if (target !== undefined) {
        var views = [];
        for (var i = 0; i < target.n.length; i++) views.push(__mc_view([target.n[i]], target.r));
        return views;
      }
      if (Array.isArray(value)) return value;
    }
    var values = [];
    var boxed = O(value);
    for (var key in boxed) values.push(boxed[key]);
    return values;
  }

  // What `<%= value %>` writes: missing values and E4X method lookups write nothing.
  function __mc_str(value) {
    if (typeof value === "string") return value;
    if (value === undefined || value === null) return "";
    if (typeof value === "object") {
      var target = VIEWS.get(value);
      if (target !== undefined) return __mc_string(target.n);
    } else if (typeof value === "function" && HELPERS.has(value)) {
      return "";
    }
    return String(value);
  }

  // ---- Helpers exposed to templates ---------------------------------------------------------

  function __mc_escapeXMLString(value) {
    if (value === undefined || value === null) return "";
    return __mc_escape(__mc_str(value), true);
  }

  var DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
  var MONTH_NAMES = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
  ];
  var DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/;

  function __mc_dateMillis(value) {
    if (value instanceof Date) return value.getTime();
    if (typeof value === "number") return value;
    var text = __mc_str(value).trim();
    if (text === "") return NaN;
    var match = DATE_TEXT.exec(text);
    if (match === null) return Date.parse(text);
    var millis = Date.UTC(+match[1], +match[2] - 1, +match[3], +(match[4] || 0), +(match[5] || 0),
      +(match[6] || 0), match[7] ? +(match[7] + "00").slice(0, 3) : 0);
    var zone = match[8];
    if (zone && zone !== "Z") {
      var sign = zone.charAt(0) === "-" ? -1 : 1;
      var digits = zone.slice(1).replace(":", "");
      millis -= sign * (+digits.slice(0, 2) * 60 + +digits.slice(2)) * 60000;
    }
    return millis;
  }

  function __mc_pad(number, width) {
    var text = String(number);
    while (text.length < width) text = "0" + text;
    return text;
  }

  function __mc_isoWeek(date) {
    var day = date.getUTCDay() || 7;
    var thursday = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 4 - day);
    var yearStart = Date.UTC(new Date(thursday).getUTCFullYear(), 0, 1);
    return Math.floor((thursday - yearStart) / 86400000 / 7) + 1;
  }

  // %A and %B: three letters, the full name with "l"; names are English ("i") in any case.
  function __mc_dayOrMonth(names, index, suffix) {
    var name = names[index];
    return suffix.indexOf("l") >= 0 ? name : name.slice(0, 3);
  }

  var FORMAT_CODE = /%(\d*)(?:([AB])([li]{0,2})|([YMDJWHINSP%]))/g;

  // Campaign's formatDate(date, format [, timeZone]); see the package README for the codes.
  function __mc_formatDate(value, format, timeZone) {
    var millis = __mc_dateMillis(value);
    if (millis !== millis) return "";
    var zoneName = __mc_str(timeZone);
    if (zoneName !== "") {
      millis += __mc_zoneOffset(zoneName, millis) * 60000;
    }
    var date = new Date(millis);
    return String(format).replace(FORMAT_CODE, function __mc_formatCode(all, width, named, suffix,
      code) {
      if (named === "A") return __mc_dayOrMonth(DAY_NAMES, date.getUTCDay(), suffix);
      if (named === "B") return __mc_dayOrMonth(MONTH_NAMES, date.getUTCMonth(), suffix);
      var size = width === "" ? 0 : +width;
      var hour = date.getUTCHours();
      switch (code) {
        case "Y": {
          var year = date.getUTCFullYear();
          return size === 2 ? __mc_pad(year % 100, 2) : __mc_pad(year, size);
        }
        case "M": return __mc_pad(date.getUTCMonth() + 1, size);
        case "D": return __mc_pad(date.getUTCDate(), size);
        case "J": {
          var dayOfYear = (Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) -
            Date.UTC(date.getUTCFullYear(), 0, 1)) / 86400000 + 1;
          return __mc_pad(dayOfYear, size);
        }
        case "W": return __mc_pad(__mc_isoWeek(date), size);
        case "H": return __mc_pad(hour, size);
        case "I": return __mc_pad(hour % 12 === 0 ? 12 : hour % 12, size);
        case "N": return __mc_pad(date.getUTCMinutes(), size);
        case "S": return __mc_pad(date.getUTCSeconds(), size);
        case "P": return hour < 12 ? "AM" : "PM";
        default: return "%";
      }
    });
  }

  // ---- The global object ----------------------------------------------------------------------
  //
  // Standard built-ins move to a prototype of the global object (frozen by the lockdown below),
  // so that a template's implicit globals ("total = 0" without var) are the global object's only
  // own properties and can be removed after every render in well under a microsecond: nothing
  // leaks from one message to the next.

  var STANDARD = (
    " AggregateError Array ArrayBuffer AsyncDisposableStack Atomics BigInt BigInt64Array" +
    " BigUint64Array Boolean DataView Date DisposableStack Error EvalError FinalizationRegistry" +
    " Float16Array Float32Array Float64Array Function Infinity Int16Array Int32Array Int8Array" +
    " InternalError Iterator JSON Map Math NaN Number Object Promise Proxy RangeError" +
    " ReferenceError Reflect RegExp Set SharedArrayBuffer String SuppressedError Symbol" +
    " SyntaxError TypeError URIError Uint16Array Uint32Array Uint8Array Uint8ClampedArray" +
    " WeakMap WeakRef WeakSet decodeURI decodeURIComponent encodeURI encodeURIComponent escape" +
    " eval globalThis isFinite isNaN parseFloat parseInt undefined unescape "
  );
  var library = O.create(getPrototypeOf(G));
  var names = ownKeys(G);
  for (var i = 0; i < names.length; i++) {
    var descriptor = getDescriptor(G, names[i]);
    if (descriptor.configurable &&
        (typeof names[i] === "symbol" || STANDARD.indexOf(" " + names[i] + " ") >= 0)) {
      defineProperty(library, names[i], descriptor);
    }
  }
  var helpers = {
    escapeXMLString: __mc_escapeXMLString,
    escapeXmlStr: __mc_escapeXMLString,
    formatDate: __mc_formatDate,
  };
  for (var helper in helpers) {
    defineProperty(library, helper, {
      value: helpers[helper],
      writable: false,
      enumerable: false,
      configurable: false,
    });
  }
  O.setPrototypeOf(G, library);
  for (var k = 0; k < names.length; k++) {
    if (getDescriptor(G, names[k]).configurable) deleteProperty(G, names[k]);
  }

  // ---- Lockdown ------------------------------------------------------------------------------
  //
  // One context serves every render of its thread, so nothing a render can reach may keep a
  // change into the next render (security review F6: a template replaced String.prototype.slice,
  // which the runtime calls, and read and altered other people's messages). Before any template
  // runs, every object reachable from the global object, the intrinsics reachable only from
  // instances (iterator and generator prototypes, %ThrowTypeError%…) and every object of this
  // runtime that templates can get hold of (the `__mc` object, the E4X and String method
  // functions handed out by views, the helpers) is frozen, with its prototype chain, its property
  // values and its getters and setters ("harden", as in SES). What freezing cannot close is
  // checked after every render by __mc_purge (the global object itself, which implicit globals
  // need writable) or by the host (pending Promise jobs), and makes that render fail and its
  // context be thrown away.
  //
  // The override mistake: assigning a property that a frozen prototype holds fails silently in
  // sloppy code (`MyType.prototype.toString = f`, `error.name = "X"`). For the properties that
  // ordinary code overrides (as SES's "moderate" taming) the prototype's data property becomes a
  // getter with a setter that gives the assigned object its own property, so those assignments
  // keep working. Any other change to a built-in (adding a method to Array.prototype, replacing
  // Math.round, polyfilling String.prototype.x) is now ignored in sloppy template code.

  var ErrorCtor = Error;
  var TypeErrorCtor = TypeError;
  var LASTING = "LastingChange";
  // What the current render did that would outlive it ("" when nothing); checked by __mc_purge.
  var lasting = "";

  function __mc_tame(object, name) {
    var found = getDescriptor(object, name);
    if (found === undefined || !hasOwn(found, "value") || !found.configurable) return;
    var value = found.value;
    defineProperty(object, name, {
      get: function __mc_builtIn() {
        return value;
      },
      set: function __mc_override(replacement) {
        if (this === object) {
          throw new TypeErrorCtor("built-ins are frozen in templates: cannot change " + name);
        }
        if (this === null || (typeof this !== "object" && typeof this !== "function")) return;
        defineProperty(this, name, {
          value: replacement,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      },
      enumerable: found.enumerable,
      configurable: false,
    });
  }

  var OVERRIDABLE = [
    [O.prototype, ["constructor", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
      "toLocaleString", "toString", "valueOf"]],
    [Function.prototype, ["constructor", "toString"]],
    [ErrorCtor.prototype, ["constructor", "message", "name", "toString"]],
  ];
  [AggregateError, EvalError, InternalError, RangeError, ReferenceError, SuppressedError,
    SyntaxError, TypeError, URIError].forEach(function __mc_nativeError(ctor) {
    OVERRIDABLE.push([ctor.prototype, ["constructor", "message", "name"]]);
  });
  for (var t = 0; t < OVERRIDABLE.length; t++) {
    for (var u = 0; u < OVERRIDABLE[t][1].length; u++) __mc_tame(OVERRIDABLE[t][0], OVERRIDABLE[t][1][u]);
  }

  // QuickJS keeps these two in the context, behind accessors that freezing leaves working: a
  // template could hand every later error of the thread to its own function. Fixed values.
  ["prepareStackTrace", "stackTraceLimit"].forEach(function __mc_fixErrorSetting(name) {
    var found = getDescriptor(ErrorCtor, name);
    if (found !== undefined && found.get !== undefined) {
      var value = apply(found.get, ErrorCtor, []);
      defineProperty(ErrorCtor, name, { value: value, writable: false, configurable: false });
    }
  });

  // A registered FinalizationRegistry callback would run in some later render (the job is queued
  // when the object is collected): registering is a lasting change.
  var register = FinalizationRegistry.prototype.register;
  defineProperty(FinalizationRegistry.prototype, "register", {
    value: function __mc_register() {
      lasting = "registered a FinalizationRegistry callback";
      return apply(register, this, arguments);
    },
    writable: true,
    enumerable: false,
    configurable: true,
  });

  function __mc_hidden(make) {
    try {
      return make();
    } catch (error) {
      return null;
    }
  }

  // Intrinsics no global property leads to: reached from instances.
  var HIDDEN = [
    function () { return getPrototypeOf([][Symbol.iterator]()); },
    function () { return getPrototypeOf(""[Symbol.iterator]()); },
    function () { return getPrototypeOf(new Map()[Symbol.iterator]()); },
    function () { return getPrototypeOf(new Set()[Symbol.iterator]()); },
    function () { return getPrototypeOf("a".matchAll(/a/g)); },
    function () { return getPrototypeOf(Iterator.from({ next: function () {} })); },
    function () { return getPrototypeOf([].values().map(function (x) { return x; })); },
    function () { return getPrototypeOf(Iterator.concat()); },
    function () { return getPrototypeOf(Iterator.zip([])); },
    function () { return getPrototypeOf(Iterator.zipKeyed({})); },
    function () { return getPrototypeOf(function* () {}); },
    function () { return getPrototypeOf(async function () {}); },
    function () { return getPrototypeOf(async function* () {}); },
    function () { return getPrototypeOf((async function* () {})()); },
    function () { return getPrototypeOf(Int8Array); },
    function () { return getDescriptor(Function.prototype, "caller").get; },
    function () { return getDescriptor(arguments, "callee").get; },
  ].map(__mc_hidden);

  // Freeze `roots` and everything reachable from them through prototypes and own properties
  // (values, getters, setters; string and symbol keys). The global object stays extensible.
  // About 900 objects, 2.5 ms once per context.
  function __mc_harden(roots) {
    var seen = new Set();
    var stack = roots.slice();
    while (stack.length) {
      var value = stack.pop();
      if (value === null || (typeof value !== "object" && typeof value !== "function")) continue;
      if (value === G || seen.has(value)) continue;
      seen.add(value);
      freeze(value);
      stack.push(getPrototypeOf(value));
      var keys = ownKeys(value);
      for (var i = 0; i < keys.length; i++) {
        var found = getDescriptor(value, keys[i]);
        if (found === undefined) continue;
        if (hasOwn(found, "value")) {
          stack.push(found.value);
        } else {
          stack.push(found.get, found.set);
        }
      }
    }
  }

  // Compiled templates seal their own functions (see compiler.py), so that no render leaves a
  // property on them for the next render of the same template.
  function __mc_seal(render) {
    freeze(render);
    freeze(render.prototype);
    return render;
  }

  var baseKeys = ownKeys(G);

  // Remove what the last render added to the global object; fail the render if it made a change
  // that cannot be removed (the host then throws this context away).
  function __mc_purge() {
    var current = ownKeys(G);
    if (current.length !== baseKeys.length) {
      for (var i = 0; i < current.length; i++) {
        var found = getDescriptor(G, current[i]);
        if (found.configurable) deleteProperty(G, current[i]);
      }
      current = ownKeys(G);
      for (var j = 0; j < current.length && lasting === ""; j++) {
        if (baseKeys.indexOf(current[j]) < 0) {
          lasting = "defined the non-configurable global '" + String(current[j]) + "'";
        }
      }
    }
    if (getPrototypeOf(G) !== library) lasting = "changed the prototype of the global object";
    if (!isExtensible(G)) lasting = "made the global object non-extensible";
    if (lasting !== "") {
      var error = new ErrorCtor("the template " + lasting + ", which would outlive its render");
      defineProperty(error, "name", { value: LASTING });
      throw error;
    }
  }

  // For the host: `runtime` is what compiled templates get as __mc; `addZone` stays with the
  // host, so that no template can plant a time zone table other renders would use.
  var runtime = {
    event: __mc_event,
    each: __mc_each,
    str: __mc_str,
    finish: __mc_finish,
    mark: __mc_mark,
    rethrow: __mc_rethrow,
    purge: __mc_purge,
    seal: __mc_seal,
  };
  __mc_harden([library, runtime, helpers, METHODS, STRING_METHODS, HANDLER, NO_VALUES,
    NO_ATTRIBUTES, __mc_iterator, __mc_toPrimitive].concat(HIDDEN));
  // The one view every render shares (what missing paths return); it never caches (no nodes).
  freeze(VIEWS.get(EMPTY));
  return {
    runtime: runtime,
    addZone: __mc_addZone,
  };
})
