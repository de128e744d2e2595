/**
 * Which Maven a project gets: its wrapper when it has one; else the sandbox's Maven when it
 * satisfies what the POM demands; else a Maven distribution fetched from Maven Central into
 * the stage cache. The decisions are pure (POM text, file list and probed version in, choice
 * out); the fetch is a few lines of the replayable setup script.
 */
import { posix } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { newestSatisfying, parseVersionRange, satisfies, type VersionInterval } from './versions.ts';

/** Maven releases we fetch, one per line still in use; the newest that fits wins. */
export const MAVEN_RELEASES = ['3.9.11', '3.8.8', '3.6.3'] as const;

export const MAVEN_WRAPPER_PROPERTIES = '.mvn/wrapper/maven-wrapper.properties';
export const GRADLE_WRAPPER_PROPERTIES = 'gradle/wrapper/gradle-wrapper.properties';

export interface PomFacts {
  /** Maven versions the POM demands (enforcer `requireMavenVersion`, `prerequisites/maven`), as written. */
  mavenRequirements: string[];
  /** The parent POM lies outside the repository: whatever it demands is unknown here. */
  remoteParent: boolean;
}

// Tag values stay strings: "3.10" is not the number 3.1.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'plugin' || name === 'execution',
});

type Node = Record<string, unknown>;
const obj = (v: unknown): Node => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {});
const list = (v: unknown): Node[] => (Array.isArray(v) ? v.map(obj) : v === undefined ? [] : [obj(v)]);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Reads what a POM says about the Maven it needs; undefined when it is not XML with a <project>. */
export function readPom(xml: string, files: readonly string[]): PomFacts | undefined {
  let doc: Node;
  try {
    doc = obj(parser.parse(xml));
  } catch {
    return undefined;
  }
  if (!('project' in doc)) return undefined;
  const project = obj(doc.project);
  const props = obj(project.properties);
  const resolve = (v: string) =>
    v.replace(/\$\{([^}]+)\}/g, (whole, name: string) => text(props[name]) ?? whole);
  const requirements: string[] = [];
  const prerequisite = text(obj(project.prerequisites).maven);
  if (prerequisite) requirements.push(resolve(prerequisite));
  const build = obj(project.build);
  const plugins = [
    ...list(obj(build.plugins).plugin),
    ...list(obj(obj(build.pluginManagement).plugins).plugin),
  ];
  for (const plugin of plugins) {
    if (text(plugin.artifactId) !== 'maven-enforcer-plugin') continue;
    const configs = [
      plugin.configuration,
      ...list(obj(plugin.executions).execution).map((e) => e.configuration),
    ];
    for (const config of configs) {
      const version = text(obj(obj(obj(config).rules).requireMavenVersion).version);
      if (version) requirements.push(resolve(version));
    }
  }
  let remoteParent = false;
  if ('parent' in project) {
    const parent = obj(project.parent);
    // An empty <relativePath/> means "look it up in the repositories"; the default is ../pom.xml.
    const rel = 'relativePath' in parent ? (text(parent.relativePath) ?? '') : '../pom.xml';
    const file = rel === '' ? '' : posix.normalize(rel.endsWith('.xml') ? rel : posix.join(rel, 'pom.xml'));
    remoteParent = file === '' || file.startsWith('..') || !files.includes(file);
  }
  return { mavenRequirements: [...new Set(requirements)], remoteParent };
}

/** A Java `.properties` file's entries (`key=value`, `key: value`, `#` and `!` comments). */
export function readProperties(source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const at = line.search(/[=:]/);
    if (at < 0) continue;
    out[line.slice(0, at).trim()] = line
      .slice(at + 1)
      .trim()
      .replace(/\\:/g, ':');
  }
  return out;
}

/** The version in a wrapper's `distributionUrl` (`…/apache-maven/3.9.9/…`, `…/gradle-8.5-bin.zip`). */
export function wrapperVersion(properties: string | undefined, tool: 'maven' | 'gradle'): string | undefined {
  const url = readProperties(properties ?? '').distributionUrl;
  if (!url) return undefined;
  let segments: string[];
  try {
    segments = new URL(url).pathname.split('/');
  } catch {
    return undefined;
  }
  if (tool === 'maven') {
    const at = segments.indexOf('apache-maven');
    return at >= 0 ? segments[at + 1] || undefined : undefined;
  }
  return /^gradle-(.+?)-(bin|all)\.zip$/.exec(segments.at(-1) ?? '')?.[1];
}

/** The version `mvn -v` prints (its first line may carry colour codes). */
export function mavenVersionFromProbe(output: string | undefined): string | undefined {
  // Colour codes out first.
  const plain = (output ?? '').replace(/\x1b\[[0-9;]*m/g, '');
  return /Apache Maven (\d[^\s]*)/.exec(plain)?.[1];
}

export interface MavenChoice {
  /** The command line that starts Maven (a shell word). */
  command: string;
  version: string;
  via: 'wrapper' | 'installed' | 'fetched';
  /** Setup-script lines that make `command` available (the fetch), '' when none. */
  prepare: string;
  /** How it was chosen, recorded beside the version. */
  note: string;
}

/** Where a fetched Maven lives: in the stage cache, so it is downloaded once and reused. */
export function fetchedMavenHome(version: string): string {
  return `\${XDG_CACHE_HOME:-$HOME/.cache}/scaleswe/apache-maven-${version}`;
}

/**
 * Setup lines that download `org.apache.maven:apache-maven:<v>:bin:tar.gz` (checked against
 * Central's sha512), unpack it beside the cache and move it into place in one rename, so
 * concurrent stages never see half a Maven. `MVNW_REPOURL` (the wrapper's own mirror
 * setting) points it at a mirror.
 */
export function fetchMavenScript(version: string): string {
  const home = fetchedMavenHome(version);
  const url = `\${MVNW_REPOURL:-https://repo.maven.apache.org/maven2}/org/apache/maven/apache-maven/${version}/apache-maven-${version}-bin.tar.gz`;
  return [
    `if [ ! -x "${home}/bin/mvn" ]; then`,
    `  mkdir -p "$(dirname "${home}")"`,
    `  dl="$(mktemp -d "${home}.XXXXXX")"`,
    `  curl -fsSL --retry 3 -o "$dl/maven.tar.gz" "${url}"`,
    `  echo "$(curl -fsSL --retry 3 "${url}.sha512" | cut -c1-128)  $dl/maven.tar.gz" | sha512sum -c --quiet -`,
    `  tar -xzf "$dl/maven.tar.gz" -C "$dl"`,
    `  mv -T "$dl/apache-maven-${version}" "${home}" 2>/dev/null || test -x "${home}/bin/mvn"`,
    `  rm -rf "$dl"`,
    'fi',
    '',
  ].join('\n');
}

function fetched(version: string, note: string): MavenChoice {
  return {
    command: `"${fetchedMavenHome(version)}/bin/mvn"`,
    version,
    via: 'fetched',
    prepare: fetchMavenScript(version),
    note,
  };
}

/**
 * Mavens to try, best first. The wrapper is what the project pins. Otherwise the installed
 * Maven when it meets every stated requirement, else the newest known release that does;
 * a parent POM outside the repository may demand more than we can read, so a newer fetched
 * Maven is the fallback there.
 */
export function mavenChoices(input: {
  pom: PomFacts | undefined;
  hasWrapper: boolean;
  wrapperProperties?: string | undefined;
  installed: string | undefined;
}): MavenChoice[] {
  if (input.hasWrapper) {
    const version = wrapperVersion(input.wrapperProperties, 'maven') ?? 'wrapper';
    return [{ command: './mvnw', version, via: 'wrapper', prepare: '', note: 'wrapper (./mvnw)' }];
  }
  const texts = input.pom?.mavenRequirements ?? [];
  const ranges = texts.map(parseVersionRange).filter((r): r is VersionInterval[] => r !== undefined);
  const newest = MAVEN_RELEASES[0];
  const wanted = newestSatisfying(MAVEN_RELEASES, ranges);
  const demand = texts.length ? `; the POM requires ${texts.join(' and ')}` : '';
  const pick = wanted ?? newest;
  const nothingFits = wanted ? '' : `; none of ${MAVEN_RELEASES.join(', ')} fits`;
  const installed = input.installed;
  if (installed === undefined) return [fetched(pick, `fetched (no maven installed${demand}${nothingFits})`)];
  if (!ranges.every((r) => satisfies(installed, r)))
    return [fetched(pick, `fetched (installed ${installed} is too old${demand}${nothingFits})`)];
  const own: MavenChoice = {
    command: 'mvn',
    version: installed,
    via: 'installed',
    prepare: '',
    note: `installed${demand}`,
  };
  const newer = wanted && satisfies(wanted, [{ min: installed, minInclusive: false }]) ? wanted : undefined;
  if (input.pom?.remoteParent && newer)
    return [own, fetched(newer, `fetched (the parent POM may require more than ${installed})`)];
  return [own];
}
