import { expect, test } from './fixtures';

test('restarting the kernel twice in a row gives a fresh kernel each time', async ({
  notebook
}) => {
  let cell = await notebook.run('marker = "old kernel"\nmarker');
  await expect(notebook.output(cell)).toContainText('old kernel');
  for (const round of [1, 2]) {
    await notebook.restart();
    cell = await notebook.run(
      `print("round ${round}:", "marker" in globals())\nmarker = "kernel ${round}"`
    );
    await expect(notebook.output(cell)).toContainText(`round ${round}: False`);
    await expect(notebook.prompt(cell)).toHaveText('[1]:');
  }
});
