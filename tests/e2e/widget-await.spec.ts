import { expect, test } from './fixtures';

const SEED = `import ipywidgets as ipw
from aiologic import Event
b = ipw.Button(description="Click me"); event = Event()
b.on_click(lambda _: event.set()); display(b)
await event
print("clicked!")`;

test('a cell awaiting a button click finishes after the click; other cells and completion work meanwhile', async ({
  notebook,
  page
}) => {
  const waiting = await notebook.run(SEED);
  const button = notebook.output(waiting).getByRole('button', { name: 'Click me' });
  await expect(button).toBeVisible();
  await notebook.waitRunning(waiting);

  // Another cell can be run meanwhile (the kernel runs cells of one notebook in order, so it
  // completes after the click).
  const other = await notebook.run('21 * 2');

  // Completion is served while the cell awaits.
  const completing = other + 1;
  await notebook.type(completing, 'ipw.IntSli');
  await page.keyboard.press('Tab');
  await expect(page.locator('.jp-Completer')).toBeVisible();
  await expect(page.locator('.jp-Completer-item').first()).toContainText('IntSlider');
  await page.keyboard.press('Escape');
  await notebook.waitRunning(waiting);

  await button.click();
  await expect(notebook.output(waiting)).toContainText('clicked!');
  await notebook.waitDone(waiting);
  await expect(notebook.output(other)).toContainText('42');
  await notebook.waitDone(other);
});
