import { expect, test } from './fixtures';

test('a cell runs and shows its result', async ({ notebook }) => {
  const cell = await notebook.run('import sys\nprint(sys.platform)\n6 * 7');
  await expect(notebook.output(cell).first()).toContainText('emscripten');
  await expect(notebook.output(cell).last()).toContainText('42');
  await notebook.waitDone(cell);
});

test('widgets render', async ({ notebook }) => {
  const cell = await notebook.run(
    'import ipywidgets as ipw\nipw.VBox([ipw.IntSlider(value=3, max=10, description="n"), ipw.Button(description="Press")])'
  );
  await expect(notebook.output(cell).locator('.widget-slider')).toBeVisible();
  await expect(notebook.output(cell).getByRole('button', { name: 'Press' })).toBeVisible();
});
