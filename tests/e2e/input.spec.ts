import { expect, test } from './fixtures';

test('two consecutive input() calls both get their answers', async ({ notebook, page }) => {
  const cell = await notebook.run(
    'a = input("first? ")\nb = input("second? ")\nprint("got", a, b)'
  );
  // An answered prompt may keep its (disabled) input: the live one is the last.
  const stdin = notebook.output(cell).locator('input.jp-Stdin-input').last();
  await expect(stdin).toBeVisible();
  await stdin.fill('apple');
  await page.keyboard.press('Enter');
  await expect(notebook.output(cell).getByText('second?')).toBeVisible();
  await expect(stdin).toBeVisible();
  await stdin.fill('banana');
  await page.keyboard.press('Enter');
  await expect(notebook.output(cell)).toContainText('got apple banana');
  await notebook.waitDone(cell);
});
