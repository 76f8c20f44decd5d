/**
 * Registers the built-in training kinds (image, text, classifier) with the registry. Imported for its
 * effect by the loop (and so by the package's entry point), which looks kinds up by name.
 */
import { classifierKind } from './classifier.js';
import { imageKind } from './image.js';
import { registerTrainingKind } from './registry.js';
import { textKind } from './text.js';

registerTrainingKind(imageKind);
registerTrainingKind(textKind);
registerTrainingKind(classifierKind);
