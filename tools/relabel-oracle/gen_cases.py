#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates random relabel regex/value/template cases (RE2 syntax, including the corners where
pcre2 reads the same text differently). One case per line: hex(regex) hex(value) hex(template).
Usage: gen_cases.py SEED COUNT"""
import random
import sys

ALPHA = ['a', 'a', 'a', 'b', 'b', 'A', '1', '_', '-', '.', ' ', '\n', '\x0b', 'é', 'λ', 'K',
         '{', '}', ',', '$']
SIMPLE = ['a', 'b', '.', '\\w', '\\d', '\\s', '[a-c]', '[^a]', '\\pL', '(a|b)', '(a*)']
ATOMS = ['a', 'b', 'c', 'A', '1', '_', '-', ':', '/', 'é', 'λ', ' ', '.', '\\.', '\\d', '\\D',
         '\\w', '\\W', '\\s', '\\S', '\\pL', '\\PL', '\\pN', '\\p{Greek}', '\\p{Lu}', '\\b',
         '\\B', '^', '$', '\\A', '\\z', '\\x61', '\\x{e9}', '\\141', '\\0', '\\12', '\\n', '\\t',
         '\\v', '\\f', '\\r', '\\a', '\\$', '\\{', '\\\\', '[a-c]', '[^a]', '[^\\n]',
         '[[:alpha:]]', '[[:^digit:]]', '[[:space:]]', '[[:word:]]', '[\\d-z]', '[a-]', '[]a]',
         '[^]a]', '[\\s]', '[\\S]', '[\\pL\\d]', '[.]', '[$^]', '[\\x{e0}-\\x{ff}]', '{', '}',
         'a{,2}', 'a{01}', '\\Q.*\\E', '\\Q\\E', '(?i)', '(?s)', '(?m)', '(?U)', '(?-s)', '(?i:a)',
         '(?m:^b$)', ',', '#', '=', '!', '<', '>', '"', "'"]
QUANTS = ['*', '+', '?', '*?', '+?', '??', '{2}', '{0,1}', '{1,}', '{1,2}?', '{0}', '{3,5}']
TEMPLATES = ['$1', '${1}', '$2', '${2}', '$0', '$n', '${n}', '$$', '$', 'x', '$1x', '${1}x',
             '$01', '$é', '${', '}', '${1', '$-', '$ ', '$10', '${n}$1', '$n_', '$1_$2',
             '$$1', '$$$1', '${x}', '$9', '$nn', 'lit']


def regex(rng, depth=0):
    parts = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.3:
            a = rng.choice(SIMPLE)
        elif r < 0.6 or depth > 1:
            a = rng.choice(ATOMS)
        elif r < 0.7:
            a = '(' + regex(rng, depth + 1) + ')'
        elif r < 0.8:
            a = '(?:' + regex(rng, depth + 1) + ')'
        elif r < 0.88:
            a = '(?P<n>' + regex(rng, depth + 1) + ')'
        else:
            a = regex(rng, depth + 1) + '|' + regex(rng, depth + 1)
        if rng.random() < 0.35:
            a += rng.choice(QUANTS)
        parts.append(a)
    return ''.join(parts)


def value(rng):
    return ''.join(rng.choice(ALPHA) for _ in range(rng.randint(0, 4)))


def main():
    rng = random.Random(int(sys.argv[1]))
    count = int(sys.argv[2])
    for _ in range(count):
        if rng.random() < 0.3:
            r = '(' + regex(rng) + ')' + ('(' + regex(rng) + ')' if rng.random() < 0.5 else '')
        else:
            r = regex(rng)
        t = ''.join(rng.choice(TEMPLATES) for _ in range(rng.randint(1, 3)))
        for _ in range(3):
            v = value(rng)
            print(r.encode().hex(), v.encode().hex() or '-', t.encode().hex())


if __name__ == '__main__':
    main()
