import { TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';

/** What a message needs from its caller: the names of its placeholders and of its rich-text tags. */
export interface MessageShape {
  placeholders: string[];
  tags: string[];
}

/**
 * The placeholders and tags a parsed message uses, in every branch of its plurals and selects:
 * the catalogue test compares them between languages, and the translator supplies every tag.
 */
export function messageShapeOf(elements: MessageFormatElement[]): MessageShape {
  const placeholders = new Set<string>();
  const tags = new Set<string>();
  const walk = (nodes: MessageFormatElement[]) => {
    for (const node of nodes) {
      switch (node.type) {
        case TYPE.argument:
        case TYPE.number:
        case TYPE.date:
        case TYPE.time:
          placeholders.add(node.value);
          break;
        case TYPE.select:
        case TYPE.plural:
          placeholders.add(node.value);
          for (const option of Object.values(node.options)) walk(option.value);
          break;
        case TYPE.tag:
          tags.add(node.value);
          walk(node.children);
          break;
        default:
          break;
      }
    }
  };
  walk(elements);
  return { placeholders: [...placeholders].sort(), tags: [...tags].sort() };
}
